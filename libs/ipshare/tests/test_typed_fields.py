"""Typed fields beside their text twins: written both ways, read typed first, text for older messages."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from eventsourcing.domain import Aggregate

from ipshare.envelope import EventCatalog
from ipshare.typed_fields import (
    date_of,
    enum_number,
    fill_typed,
    instant_of,
    iso_date_of,
    required_instant_of,
    text_of,
    twins,
)
from ipshare_contracts.calendar.v1.date_pb2 import Date
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry
from ipshare_contracts.revenueshare.v1 import events_pb2 as revenue_share

MEMBER_KIND = registry.MemberAdmitted.DESCRIPTOR.fields_by_name["member_kind"].enum_type


class Member(Aggregate):
    class Admitted(Aggregate.Created):
        kind: str


def admitted(kind: str) -> Member.Admitted:
    return Member.Admitted(originator_id=uuid.uuid4(), originator_version=1, timestamp=datetime.now(UTC),
                           originator_topic="tests:Member", kind=kind)  # fmt: skip


def test_the_option_names_each_typed_fields_text_twin() -> None:
    found = {(t.typed, t.text, t.enum is None) for t in twins(registry.AssetRegistered)}
    assert ("asset_kind", "kind", False) in found
    assert ("asset_status", "status", False) in found
    assert {(t.typed, t.text) for t in twins(EventEnvelope)} == {("effective_day", "effective_date")}


# ---- enums --------------------------------------------------------------------------------------


def test_the_domain_text_maps_to_the_enum_value_and_back() -> None:
    assert enum_number(MEMBER_KIND, "research_institute") == registry.MEMBER_KIND_RESEARCH_INSTITUTE
    payload = registry.MemberAdmitted(member_kind=registry.MEMBER_KIND_RESEARCH_INSTITUTE)
    assert text_of(payload, "member_kind") == "research_institute"


def test_text_the_enum_does_not_know_is_unspecified_and_the_text_still_travels() -> None:
    assert enum_number(MEMBER_KIND, "guild") == registry.MEMBER_KIND_UNSPECIFIED
    assert enum_number(MEMBER_KIND, "") == registry.MEMBER_KIND_UNSPECIFIED
    assert text_of(registry.MemberAdmitted(kind="guild"), "member_kind") == "guild"


def test_a_payload_from_before_the_enum_is_read_through_its_text() -> None:
    before = registry.MemberAdmitted.FromString(registry.MemberAdmitted(kind="university").SerializeToString())
    assert before.member_kind == registry.MEMBER_KIND_UNSPECIFIED
    assert text_of(before, "member_kind") == "university"


def test_an_enum_value_newer_than_the_readers_contracts_is_read_through_its_text() -> None:
    newer = registry.MemberAdmitted(kind="cooperative")
    newer.member_kind = 99  # type: ignore[assignment]  # a value a later release added
    assert text_of(newer, "member_kind") == "cooperative"


def test_the_catalog_publishes_both_the_enum_and_the_text() -> None:
    catalog = EventCatalog("test")
    catalog.register(Member.Admitted, registry.MemberAdmitted)
    payload = catalog.payload(admitted("university"))
    assert isinstance(payload, registry.MemberAdmitted)
    assert (payload.member_kind, payload.kind) == (registry.MEMBER_KIND_UNIVERSITY, "university")


def test_only_a_typed_field_has_a_text_twin() -> None:
    with pytest.raises(ValueError, match="has no text twin"):
        text_of(registry.MemberAdmitted(kind="university"), "kind")


# ---- dates --------------------------------------------------------------------------------------


def test_fill_sets_the_date_from_its_text_and_keeps_a_date_already_set() -> None:
    envelope = EventEnvelope(effective_date="2026-02-28")
    fill_typed(envelope)
    assert envelope.effective_day == Date(year=2026, month=2, day=28)
    envelope.effective_day.CopyFrom(Date(year=2027, month=1, day=1))
    fill_typed(envelope)
    assert envelope.effective_day.year == 2027


def test_no_text_leaves_the_date_absent() -> None:
    envelope = EventEnvelope()
    fill_typed(envelope)
    assert not envelope.HasField("effective_day")
    assert (date_of(envelope, "effective_day"), iso_date_of(envelope, "effective_day")) == (None, "")


def test_the_typed_date_wins_over_its_text() -> None:
    envelope = EventEnvelope(effective_date="2026-01-01", effective_day=Date(year=2026, month=1, day=2))
    assert date_of(envelope, "effective_day") == date(2026, 1, 2)
    assert iso_date_of(envelope, "effective_day") == "2026-01-02"


def test_a_date_field_that_holds_no_calendar_date_is_refused() -> None:
    with pytest.raises(ValueError, match="day is out of range"):
        date_of(EventEnvelope(effective_day=Date(year=2026, month=2, day=30)), "effective_day")


# ---- instants -----------------------------------------------------------------------------------


def test_fill_sets_the_instant_from_its_text_to_the_microsecond() -> None:
    closed = revenue_share.PeriodClosed(closed_at="2027-01-05T08:30:00.000250+08:00")
    fill_typed(closed)
    assert closed.close_time.ToDatetime(tzinfo=UTC) == datetime(2027, 1, 5, 0, 30, 0, 250, tzinfo=UTC)
    assert instant_of(closed, "close_time") == datetime(2027, 1, 5, 0, 30, 0, 250, tzinfo=UTC)


def test_the_typed_instant_wins_over_its_text_and_no_text_leaves_it_absent() -> None:
    recorded = revenue_share.PolicyVersionRecorded(recorded_at="2026-01-01T00:00:00+00:00")
    recorded.record_time.FromDatetime(datetime(2026, 1, 2, tzinfo=UTC))
    assert instant_of(recorded, "record_time") == datetime(2026, 1, 2, tzinfo=UTC)
    empty = revenue_share.PolicyVersionRecorded()
    fill_typed(empty)
    assert not empty.HasField("record_time")
    assert instant_of(empty, "record_time") is None
    with pytest.raises(ValueError, match="has no record_time"):
        required_instant_of(empty, "record_time")


def test_an_instant_without_an_offset_is_refused_not_read_as_local_time() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        fill_typed(revenue_share.PeriodClosed(closed_at="2027-01-05T08:30:00"))
    with pytest.raises(ValueError, match="no UTC offset"):
        instant_of(revenue_share.PeriodClosed(closed_at="2027-01-05T08:30:00"), "close_time")
