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
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType

import pytest
from eventsourcing.domain import Aggregate
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor
from google.protobuf.message_factory import GetMessageClass

from commercialization.catalog import build_catalog as commercialization_catalog
from commercialization.domain.account import RevenueKind
from commercialization.domain.license import LicenseeKind, LicenseStatus
from commercialization.domain.scope import LicenseType
from incubation.catalog import build_catalog as incubation_catalog
from incubation.domain.cap_table import MOVEMENT_KINDS
from incubation.domain.seed_project import FUNDER_KINDS, MilestoneStatus
from incubation.domain.spin_off import DISTRIBUTION_KINDS, FOUNDED_VIA, HOLDER_KINDS, WINDOW_UNITS
from incubation.domain.vesting import ACCELERATIONS
from ip_registry.catalog import build_catalog as registry_catalog
from ip_registry.domain.lifecycle import AssetStatus
from ip_registry.domain.member import MemberKind
from ip_registry.domain.values import AssetKind, CostKind
from ipshare.envelope import EventCatalog
from ipshare.typed_fields import Form, enum_prefix, twins
from ipshare_contracts.calendar.v1.date_pb2 import Date
from ipshare_contracts.commercialization.v1 import events_pb2 as commercialization_events
from ipshare_contracts.commercialization.v1 import service_pb2 as commercialization_service
from ipshare_contracts.incubation.v1 import events_pb2 as incubation_events
from ipshare_contracts.incubation.v1 import service_pb2 as incubation_service
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry_events
from ipshare_contracts.ipregistry.v1 import service_pb2 as registry_service
from ipshare_contracts.revenueshare.v1 import events_pb2 as revenue_share_events
from ipshare_contracts.revenueshare.v1 import service_pb2 as revenue_share_service
from revenue_share.adapters.inbox import RELEVANT, InboxProjection, fact_stated
from revenue_share.catalog import build_catalog as revenue_share_catalog
from revenue_share.catalog import own_events
from revenue_share.domain.facts import PayeeKind, Step
from revenue_share.domain.policy_versions import Scope

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


# ---- enums: typed beside the text, the same values as the domain ------------------------------

# Each contract enum and the domain's values it stands for (a StrEnum, or the tuple of strings a domain
# keeps its choices in).
DOMAIN_ENUMS: dict[EnumDescriptor, Iterable[str]] = {
    registry_events.MemberKind.DESCRIPTOR: MemberKind,
    registry_events.AssetKind.DESCRIPTOR: AssetKind,
    registry_events.AssetStatus.DESCRIPTOR: AssetStatus,
    registry_events.CostKind.DESCRIPTOR: CostKind,
    commercialization_events.LicenseType.DESCRIPTOR: LicenseType,
    commercialization_events.RevenueKind.DESCRIPTOR: RevenueKind,
    commercialization_events.LicenseeKind.DESCRIPTOR: LicenseeKind,
    incubation_events.HolderKind.DESCRIPTOR: HOLDER_KINDS,
    incubation_events.FoundingRoute.DESCRIPTOR: FOUNDED_VIA,
    incubation_events.ShareMovement.DESCRIPTOR: MOVEMENT_KINDS,
    incubation_events.AccelerationTrigger.DESCRIPTOR: ACCELERATIONS,
    incubation_events.WindowUnit.DESCRIPTOR: WINDOW_UNITS,
    incubation_events.DistributionKind.DESCRIPTOR: DISTRIBUTION_KINDS,
    incubation_events.FunderKind.DESCRIPTOR: FUNDER_KINDS,
    revenue_share_events.WaterfallStep.DESCRIPTOR: Step,
    revenue_share_events.PayeeKind.DESCRIPTOR: PayeeKind,
    revenue_share_events.PolicyScope.DESCRIPTOR: Scope,
    commercialization_service.LicenseStatus.DESCRIPTOR: LicenseStatus,
    incubation_service.MilestoneState.DESCRIPTOR: MilestoneStatus,
}


@pytest.mark.parametrize("enum", DOMAIN_ENUMS, ids=lambda e: e.name)
def test_a_contract_enum_has_exactly_the_domains_values(enum: EnumDescriptor) -> None:
    published = {v.name.removeprefix(enum_prefix(enum)).lower() for v in enum.values if v.number}
    assert published == {str(value) for value in DOMAIN_ENUMS[enum]}
    assert enum.values_by_number[0].name == f"{enum_prefix(enum)}UNSPECIFIED"


# The events and the gRPC services of the four services.
CONTRACTS: list[FileDescriptor] = [
    m.DESCRIPTOR
    for m in (registry_events, commercialization_events, incubation_events, revenue_share_events,
              registry_service, commercialization_service, incubation_service, revenue_share_service)
]  # fmt: skip


def test_every_enum_of_the_contracts_stands_for_a_domain_enum() -> None:
    declared = {e.full_name for contract in CONTRACTS for e in contract.enum_types_by_name.values()}
    assert declared == {e.full_name for e in DOMAIN_ENUMS}


def contract_messages() -> Iterator[Descriptor]:
    for contract in CONTRACTS:
        for message in contract.message_types_by_name.values():
            yield from message_types(message)


def test_every_enum_and_date_field_stands_beside_its_text_which_is_deprecated() -> None:
    """A typed field names its text twin; the twin stays, deprecated, for readers from before it. (An
    instant may be a Timestamp without a twin: the envelope's occurred_at was never text.)"""
    for message in contract_messages():
        for field in message.fields:
            is_date = field.message_type is not None and field.message_type.full_name == Date.DESCRIPTOR.full_name
            where = f"{message.full_name}.{field.name}"
            [twin] = [t for t in twins(GetMessageClass(message)) if t.typed == field.name] or [None]
            if field.type != FieldDescriptor.TYPE_ENUM and not is_date and twin is None:
                continue
            assert twin is not None, f"{where}: name its string twin with (ipshare.typed.v1.text_field)"
            text = message.fields_by_name[twin.text]
            assert text.GetOptions().deprecated, f"{where}: readers should use the typed field, not {text.name}"


# Strings that hold a date: `*_date`, `*_on` (expires_on), the bounds of a period or a schedule, the
# day a reply is as of. Strings that hold an instant: `*_at`, and a statements request's as_of (a
# recording time). One instant stays text only: an audit checkpoint's signed_at is signed as text.
DATE_TEXT = ("_date", "_on", "start", "end", "as_of")
INSTANT_TEXT = ("_at",)
TIMES = {"ipshare.revenueshare.v1.StatementsRequest.as_of"}
SIGNED_TEXT = {"ipshare.audit.v1.CheckpointSigned.signed_at"}


def test_every_date_and_instant_is_typed_beside_its_text() -> None:
    for message in contract_messages():
        typed = {t.text: t.form for t in twins(GetMessageClass(message))}
        for field in message.fields:
            if field.type != FieldDescriptor.TYPE_STRING or field.full_name in SIGNED_TEXT:
                continue
            where = f"{message.full_name}.{field.name}"
            if field.name.endswith(INSTANT_TEXT) or field.full_name in TIMES:
                assert typed.get(field.name) is Form.INSTANT, f"{where}: add a Timestamp field beside it"
            elif field.name.endswith(DATE_TEXT):
                assert typed.get(field.name) is Form.DATE, f"{where}: add a Date field beside it"


# Strings that hold one of a fixed set of words; and those that stay text: a strategic reserve's
# "none" is the empty string (an enum's zero would read as "not stated"), a refusal's code is the
# name of a gRPC status (gRPC defines them), and a source group's scope names an asset or a spin-off.
CHOICE_TEXT = ("kind", "status", "scope", "step", "unit", "acceleration", "founded_via", "license_type")
STAYING_TEXT = {"strategic_reserve", "code", "ipshare.revenueshare.v1.SourceGroup.scope"}


def test_every_choice_is_typed_beside_its_text() -> None:
    for message in contract_messages():
        typed_texts = {t.text for t in twins(GetMessageClass(message)) if t.enum is not None}
        for field in message.fields:
            is_choice = field.name.endswith(CHOICE_TEXT) and not {field.name, field.full_name} & STAYING_TEXT
            if field.type == FieldDescriptor.TYPE_STRING and is_choice:
                assert field.name in typed_texts, f"{message.full_name}.{field.name}: add an enum field beside it"


@pytest.mark.parametrize(
    "payload",
    [
        commercialization_events.RevenueReceived(revenue_kind=commercialization_events.REVENUE_KIND_ROYALTY),
        commercialization_events.RevenueReceived(kind="royalty"),  # published before the enum
    ],
    ids=["typed", "text only"],
)
def test_revenue_share_reads_the_kind_of_a_receipt_typed_or_as_text(
    payload: commercialization_events.RevenueReceived,
) -> None:
    fact = fact_stated("license-1", payload)
    assert fact is not None
    assert fact[1]["kind"] == "royalty"
