"""Each service's published events (its integration contract) apart from its private ones.

Every event class of a service's aggregates is either published, as a message of the service's
own `events.proto`, or kept private; a new event class that is neither fails here, before it is
silently left off the topic or put on it by accident. Revenue-share consumes only what the
other services publish.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from eventsourcing.domain import Aggregate
from google.protobuf.descriptor import Descriptor, FileDescriptor

from commercialization.catalog import build_catalog as commercialization_catalog
from incubation.catalog import build_catalog as incubation_catalog
from ip_registry.catalog import build_catalog as registry_catalog
from ipshare.envelope import EventCatalog
from ipshare_contracts.commercialization.v1 import events_pb2 as commercialization_events
from ipshare_contracts.incubation.v1 import events_pb2 as incubation_events
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry_events
from ipshare_contracts.revenueshare.v1 import events_pb2 as revenue_share_events
from revenue_share.adapters.inbox import RELEVANT, InboxProjection
from revenue_share.catalog import build_catalog as revenue_share_catalog
from revenue_share.catalog import own_events

SERVICES: dict[str, tuple[str, Callable[[], EventCatalog], ModuleType]] = {
    "ip-registry": ("ip_registry", registry_catalog, registry_events),
    "commercialization": ("commercialization", commercialization_catalog, commercialization_events),
    "incubation": ("incubation", incubation_catalog, incubation_events),
    "revenue-share": ("revenue_share", revenue_share_catalog, revenue_share_events),
}


def aggregates(package_name: str) -> Iterator[type[Aggregate]]:
    """The aggregate classes defined anywhere in a service's package."""
    package = importlib.import_module(package_name)
    for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, Aggregate) and value.__module__ == module.__name__:
                yield value


def event_classes(package_name: str) -> set[type]:
    """Every event class the service's aggregates record (not the per-aggregate bases)."""
    found = set()
    for aggregate in aggregates(package_name):
        for name, value in vars(aggregate).items():
            is_event = inspect.isclass(value) and issubclass(value, Aggregate.Event)
            if is_event and name not in {"Event", "Created"}:
                found.add(value)
    return found


def message_types(message: Descriptor) -> Iterator[Descriptor]:
    """The message and every message its fields hold, transitively."""
    yield message
    for field in message.fields:
        if field.message_type is not None:
            yield from message_types(field.message_type)


def named(classes: set[type]) -> list[str]:
    return sorted(f"{c.__module__}.{c.__qualname__}" for c in classes)


@pytest.mark.parametrize("service", SERVICES)
def test_every_event_class_is_either_published_or_kept_private(service: str) -> None:
    package_name, build_catalog, _ = SERVICES[service]
    catalog = build_catalog()
    recorded = event_classes(package_name)
    assert recorded, f"no aggregates found in {package_name}"
    assert not catalog.published() & catalog.private()
    assert named(recorded - catalog.published() - catalog.private()) == [], "add it to the catalog's one set or other"
    assert named((catalog.published() | catalog.private()) - recorded) == [], "the catalog names an unknown class"


@pytest.mark.parametrize("service", SERVICES)
def test_the_published_payloads_are_exactly_the_services_events_proto(service: str) -> None:
    _, build_catalog, events = SERVICES[service]
    contract: FileDescriptor = events.DESCRIPTOR
    payloads = [p.DESCRIPTOR for p in build_catalog().payload_types()]
    assert {p.file.name for p in payloads} == {contract.name}
    assert len({p.full_name for p in payloads}) == len(payloads), "one payload type per event class"
    # Every message of the file is a payload or a part of one: nothing in the contract is unused.
    used = {m.full_name for p in payloads for m in message_types(p)}
    assert set(contract.message_types_by_name) - {m.rsplit(".", 1)[1] for m in used} == set()


def test_a_class_is_never_both_published_and_private() -> None:
    class Thing(Aggregate):
        class Happened(Aggregate.Event):
            pass

    catalog = EventCatalog("test")
    catalog.register(Thing.Happened, registry_events.MemberSuspended)
    with pytest.raises(ValueError, match="is published"):
        catalog.keep_private([Thing.Happened])
    other = EventCatalog("test")
    other.keep_private([Thing.Happened])
    with pytest.raises(ValueError, match="kept private"):
        other.register(Thing.Happened, registry_events.MemberSuspended)


def test_revenue_share_consumes_only_what_the_other_services_publish() -> None:
    published = {
        p.DESCRIPTOR.full_name
        for service in ("ip-registry", "commercialization", "incubation")
        for p in SERVICES[service][1]().payload_types()
    }
    consumed = {p.DESCRIPTOR.full_name for p in RELEVANT}
    assert consumed <= published, sorted(consumed - published)
    assert all(InboxProjection.decoder.knows(name) for name in consumed)
    assert not any(InboxProjection.decoder.knows(name) for name in published - consumed)


def test_revenue_share_reads_back_exactly_what_it_publishes() -> None:
    decoder = own_events()
    for payload in revenue_share_catalog().payload_types():
        assert decoder.knows(payload.DESCRIPTOR.full_name)
    assert not decoder.knows(registry_events.MemberAdmitted.DESCRIPTOR.full_name)
