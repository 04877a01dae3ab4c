from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from eventsourcing.domain import Aggregate, event

from ipshare.envelope import (
    EventCatalog,
    PayloadDecoder,
    UndecodableEvent,
    actor_of,
    decode_envelope,
    written_alike,
)
from ipshare.typed_fields import date_of
from ipshare_contracts.calendar.v1.date_pb2 import Date
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry
from ipshare_kernel.actor import CAUSED_BY, Actor


def envelope_of(payload: registry.MemberAdmitted, type_name: str) -> EventEnvelope:
    envelope = EventEnvelope(event_id="e-1", source="ip-registry", type=type_name)
    envelope.payload.Pack(payload)
    return envelope


DECODER = PayloadDecoder([registry.MemberAdmitted, registry.CostRecorded])


def test_a_payload_decodes_as_the_type_the_envelope_names() -> None:
    admitted = registry.MemberAdmitted(name="Huaxia University", kind="university", state_established=True)
    decoded = DECODER.decode(envelope_of(admitted, "ipshare.ipregistry.v1.MemberAdmitted"))
    assert decoded == admitted


def test_a_payload_of_another_type_than_the_envelope_names_is_undecodable() -> None:
    admitted = registry.MemberAdmitted(name="Huaxia University")
    with pytest.raises(UndecodableEvent, match=r"payload is not a ipshare\.ipregistry\.v1\.CostRecorded"):
        DECODER.decode(envelope_of(admitted, "ipshare.ipregistry.v1.CostRecorded"))


def test_unreadable_payload_bytes_are_undecodable() -> None:
    envelope = envelope_of(registry.MemberAdmitted(), "ipshare.ipregistry.v1.MemberAdmitted")
    envelope.payload.value = b"\xff\xff\xff"
    with pytest.raises(UndecodableEvent, match="not a readable"):
        DECODER.decode(envelope)


def test_an_unknown_type_is_undecodable() -> None:
    with pytest.raises(UndecodableEvent, match="unknown event type"):
        DECODER.decode(envelope_of(registry.MemberAdmitted(), "ipshare.ipregistry.v1.Unheard"))


class Applicant(Aggregate):
    @event("Admitted")
    def __init__(self, name: str) -> None:
        self.name = name


def admitted_envelope(meta: dict[str, str]) -> EventEnvelope:
    catalog = EventCatalog("ip-registry")
    catalog.register(Applicant.Admitted, registry.MemberAdmitted)
    [admitted] = Applicant("Huaxia University").collect_events()
    return catalog.envelope(7, admitted, meta)


def test_the_envelope_names_the_actor_and_the_actor_of_the_cause() -> None:
    ana = Actor("auth0|ana", "member", "Ana Lima", "m-1")
    meta = {"principal": "service:dispatcher", **Actor("dispatcher", "service").to_metadata(),
            **ana.to_metadata(CAUSED_BY)}  # fmt: skip
    envelope = decode_envelope(admitted_envelope(meta).SerializeToString())
    assert envelope.principal == "service:dispatcher"
    assert actor_of(envelope.actor) == Actor("dispatcher", "service")
    assert actor_of(envelope.caused_by) == ana


def test_an_event_recorded_before_actors_has_no_actor_in_its_envelope() -> None:
    envelope = admitted_envelope({"principal": "member:m-1"})
    assert not envelope.HasField("actor")
    assert not envelope.HasField("caused_by")
    assert actor_of(envelope.actor) is None
    assert envelope.principal == "member:m-1"


class Dated(Aggregate):
    @event("Suspended")
    def __init__(self, reason: str, effective_date: date) -> None:
        self.reason = reason


def test_the_envelope_carries_the_effective_date_typed_and_as_text() -> None:
    catalog = EventCatalog("ip-registry")
    catalog.register(Dated.Suspended, registry.MemberSuspended)
    [suspended] = Dated("dues unpaid", date(2026, 3, 1)).collect_events()
    envelope = decode_envelope(catalog.envelope(7, suspended, {}).SerializeToString())
    assert envelope.effective_day == Date(year=2026, month=3, day=1)
    assert envelope.effective_date == "2026-03-01"
    assert date_of(envelope, "effective_day") == date(2026, 3, 1)


def test_an_envelope_from_before_the_typed_date_is_read_through_its_text() -> None:
    before = EventEnvelope(event_id="e-1", source="ip-registry", type="t", effective_date="2025-12-31")
    assert date_of(decode_envelope(before.SerializeToString()), "effective_day") == date(2025, 12, 31)
    assert date_of(EventEnvelope(), "effective_day") is None  # an event with no business date


def published_suspension(reason: str, day: date) -> EventEnvelope:
    catalog = EventCatalog("ip-registry")
    catalog.register(Dated.Suspended, registry.MemberSuspended)
    [suspended] = Dated(reason, day).collect_events()
    return catalog.envelope(7, suspended, {})


def as_an_earlier_release_wrote_it(envelope: EventEnvelope) -> EventEnvelope:
    """The same event without typed twins: the envelope's effective_day and the payload's."""
    earlier = EventEnvelope()
    earlier.CopyFrom(envelope)
    earlier.ClearField("effective_day")
    payload = registry.MemberSuspended()
    assert earlier.payload.Unpack(payload)
    payload.ClearField("effective_day")
    earlier.payload.Pack(payload)
    return earlier


def test_an_event_published_by_an_earlier_release_is_written_alike_to_the_same_event_now() -> None:
    now = published_suspension("dues unpaid", date(2026, 3, 1))
    earlier = as_an_earlier_release_wrote_it(now)
    assert earlier != now
    assert written_alike(now, earlier)


@pytest.mark.parametrize(
    "change",
    [
        lambda e: setattr(e, "effective_date", "2026-03-02"),  # the text of a date
        lambda e: setattr(e, "principal", "admin:someone-else"),
    ],
    ids=["effective date", "principal"],
)
def test_an_altered_earlier_event_is_not_written_alike(change: Callable[[EventEnvelope], None]) -> None:
    now = published_suspension("dues unpaid", date(2026, 3, 1))
    earlier = as_an_earlier_release_wrote_it(now)
    change(earlier)
    assert not written_alike(now, earlier)


def test_an_altered_payload_of_an_earlier_event_is_not_written_alike() -> None:
    now = published_suspension("dues unpaid", date(2026, 3, 1))
    other = as_an_earlier_release_wrote_it(published_suspension("fraud", date(2026, 3, 1)))
    assert not written_alike(now, other)
