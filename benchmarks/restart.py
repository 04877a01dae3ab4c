"""Restart benchmark: how long each service refuses reads when it restarts, side by side.

    .venv/bin/python benchmarks/restart.py [--rounds 3] [--rate 10]

Set-up (not timed): the embedded stack on free ports in a temporary folder, and the demo's flow
run once, so every service has a history, a topic and, where it has them, consumer groups.

Timed, for each service in turn and `--rounds` times: SIGTERM to its process, wait for it to
exit, start it again. A client meanwhile reads one of its routes `--rate` times a second; the
figures are from the SIGTERM to the first answered read, to the first 200 on `/healthz`, and the
reads refused in between (connection refused or an error status). ip-registry, which consumes
nothing, is the baseline the others are read against.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from ipshare.auth import Role
from ipshare_devtools.demo import Slice
from ipshare_devtools.embedded import free_port
from ipshare_devtools.stack import ServiceProcess, Stack, StackSettings

READS = {
    "ip-registry": "/assets",
    "commercialization": "/licenses/{license_id}",
    "incubation": "/spin-offs",
    "revenue-share": "/periods",
}  # fmt: skip  (the demo's license: commercialization lists none)


@dataclass
class Restarts:
    answered: list[float] = field(default_factory=list)  # seconds from SIGTERM to the first answered read
    healthy: list[float] = field(default_factory=list)  # ... to the first 200 on /healthz
    refused: list[int] = field(default_factory=list)  # reads refused in between


def stack_settings(state_dir: Path) -> StackSettings:
    ports = {
        f"{service}_{kind}_port": free_port()
        for service in ("ip_registry", "commercialization", "incubation", "revenue_share")
        for kind in ("http", "grpc")
    }
    return StackSettings(state_dir=state_dir, embedded_kafka_port=free_port(), console_http_port=free_port(),
                         dev_issuer_port=free_port(), **ports)  # type: ignore[arg-type]  # fmt: skip


def restart_once(
    stack: Stack, replica: ServiceProcess, headers: dict[str, str], rate: float, license_id: str
) -> tuple[float, float, int]:
    """(seconds to the first answered read, seconds to healthy, reads refused) for one restart."""
    process = stack.processes[replica.process_name]
    read = replica.base_url + READS[replica.name].format(license_id=license_id)
    health = replica.base_url + "/healthz"
    refused, respawned = 0, False
    with httpx.Client(timeout=2.0) as client:
        started = time.monotonic()
        process.terminate()
        while True:
            if not respawned and process.poll() is not None:
                stack.respawn(replica)  # the old one has drained and exited: start the new one
                respawned = True
            sent = time.monotonic()
            try:
                status: int | None = client.get(read, headers=headers).status_code
            except httpx.TransportError:
                status = None
            if status is not None and 400 <= status < 500:
                raise RuntimeError(f"{read} answered {status}: the benchmark reads the wrong route")
            if status == 200 and respawned:
                answered_after = time.monotonic() - started
                break
            refused += status != 200
            time.sleep(max(0.0, 1 / rate - (time.monotonic() - sent)))
        while True:
            try:
                if client.get(health).status_code == 200:
                    return answered_after, time.monotonic() - started, refused
            except httpx.TransportError:
                pass
            time.sleep(0.05)


def table(results: dict[str, Restarts], rate: float) -> Table:
    out = Table(title=f"restart: SIGTERM to serving again (median of rounds; a client reads {rate:g}/s)")
    for column in ("service", "first read answered", "healthy", "reads refused", "vs ip-registry"):
        out.add_column(column, justify="left" if column == "service" else "right")
    baseline = statistics.median(results["ip-registry"].answered)
    for name, r in results.items():
        answered = statistics.median(r.answered)
        out.add_row(name, f"{answered:.2f} s", f"{statistics.median(r.healthy):.2f} s",
                    f"{statistics.median(r.refused):.0f}", f"{answered / baseline:.2f}x")  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=10.0, help="reads per second during a restart")
    args = parser.parse_args()
    console = Console(width=120)
    with tempfile.TemporaryDirectory(prefix="ipshare-restart-") as folder:
        settings = stack_settings(Path(folder))
        stack = Stack(settings)
        stack.start(fresh=True, timeout=300)
        try:
            flow = Slice(settings)
            license_id = flow.run().license_id
            flow.close()
            headers = {"Authorization": f"Bearer {settings.dev_issuer().person_token(Role.ADMIN)}"}
            results = {name: Restarts() for name in READS}
            for _ in range(args.rounds):
                for replica in stack.replicas:
                    answered, healthy, refused = restart_once(stack, replica, headers, args.rate, license_id)
                    results[replica.name].answered.append(answered)
                    results[replica.name].healthy.append(healthy)
                    results[replica.name].refused.append(refused)
                    console.print(f"{replica.name}: read answered after {answered:.2f} s, healthy after "
                                  f"{healthy:.2f} s, {refused} reads refused")  # fmt: skip
            console.print(table(results, args.rate))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
