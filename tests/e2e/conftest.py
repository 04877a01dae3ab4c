"""The four services as separate processes over real sockets, on the session's PostgreSQL and broker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ipshare.auth import Role
from ipshare_devtools.embedded import free_port
from ipshare_devtools.stack import Stack, StackSettings
from ipshare_devtools.testing.traces import OtlpCollector


@pytest.fixture(scope="session")
def otlp() -> Iterator[OtlpCollector]:
    """Where the session stack's services export their spans (OTLP/HTTP, as to a real collector)."""
    collector = OtlpCollector().start()
    yield collector
    collector.stop()


@pytest.fixture(scope="session")
def stack(
    postgres_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, otlp: OtlpCollector
) -> Iterator[Stack]:
    ports = {f"{name}_{kind}_port": free_port() for name in ("ip_registry", "commercialization", "incubation",
                                                             "revenue_share") for kind in ("http", "grpc")}  # fmt: skip
    ports["console_http_port"], ports["dev_issuer_port"] = free_port(), free_port()
    state_dir: Path = tmp_path_factory.mktemp("stack")
    os.environ.setdefault("AUDIT_CHECKPOINT_SECONDS", "1")  # the services inherit it: checkpoints within the tests
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.endpoint  # the services inherit these too
    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = "100"  # milliseconds between exports: the spans arrive soon
    settings = StackSettings(
        database_url=postgres_url, kafka_bootstrap_servers=kafka_bootstrap, state_dir=state_dir,
        **ports,
    )  # fmt: skip
    running = Stack(settings)
    running.start(timeout=180)  # five processes importing at once on a busy two-core machine
    yield running
    running.stop()


Bearer = Callable[..., dict[str, str]]


@pytest.fixture(scope="session")
def bearer(stack: Stack) -> Bearer:
    """Authorization headers for a role (and, for members, the member id): the stack issuer's tokens."""

    def headers(role: Role, member_id: str | None = None) -> dict[str, str]:
        token = stack.issuer.person_token(role, uuid.UUID(member_id) if member_id else None)
        return {"Authorization": f"Bearer {token}"}

    return headers


# The end-to-end modules share the session's PostgreSQL and broker. The simulation starts its own
# stack (two stacks at once exceed the server's connections), so it runs before any module starts
# the session stack; the console's tests settle a 2025 period, which must come before the slice's
# period of this year (periods follow each other). The other modules run between, in name order.
FIRST = ("test_simulation.py", "test_web_console.py")
LAST = ("test_slice.py",)


def _rank(item: pytest.Item) -> int:
    name = item.path.name
    return FIRST.index(name) if name in FIRST else len(FIRST) + 1 if name in LAST else len(FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if item.path.parent == here]
    ordered = sorted((items[i] for i in slots), key=_rank)
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item
