from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from eventsourcing.domain import Aggregate, event

from ipshare.envelope import (
    EventCatalog,
    PayloadDecoder,
    UndecodableEvent,
    actor_of,
    decode_envelope,
    enum_field,
    enum_number,
    typed_text,
)
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


# ---- enum fields beside the text fields they type -----------------------------------------

MEMBER_KIND = enum_field(registry.MemberAdmitted, "member_kind")


class Member(Aggregate):
    class Admitted(Aggregate.Created):
        kind: str


def admitted(kind: str) -> Member.Admitted:
    return Member.Admitted(originator_id=uuid.uuid4(), originator_version=1, timestamp=datetime.now(UTC),
                           originator_topic="tests:Member", kind=kind)  # fmt: skip


def test_the_domain_text_maps_to_the_enum_value_and_back() -> None:
    assert enum_number(MEMBER_KIND, "research_institute") == registry.MEMBER_KIND_RESEARCH_INSTITUTE
    payload = registry.MemberAdmitted(member_kind=registry.MEMBER_KIND_RESEARCH_INSTITUTE)
    assert typed_text(payload, "member_kind", "kind") == "research_institute"


def test_text_the_enum_does_not_know_is_unspecified_and_the_text_still_travels() -> None:
    assert enum_number(MEMBER_KIND, "guild") == registry.MEMBER_KIND_UNSPECIFIED
    assert enum_number(MEMBER_KIND, "") == registry.MEMBER_KIND_UNSPECIFIED
    assert typed_text(registry.MemberAdmitted(kind="guild"), "member_kind", "kind") == "guild"


def test_a_payload_from_before_the_enum_is_read_through_its_text() -> None:
    before = registry.MemberAdmitted.FromString(registry.MemberAdmitted(kind="university").SerializeToString())
    assert before.member_kind == registry.MEMBER_KIND_UNSPECIFIED
    assert typed_text(before, "member_kind", "kind") == "university"


def test_an_enum_value_newer_than_the_readers_contracts_is_read_through_its_text() -> None:
    newer = registry.MemberAdmitted(kind="cooperative")
    newer.member_kind = 99  # type: ignore[assignment]  # a value a later release added
    assert typed_text(newer, "member_kind", "kind") == "cooperative"


def test_the_catalog_publishes_both_the_enum_and_the_text() -> None:
    catalog = EventCatalog("test")
    catalog.register(Member.Admitted, registry.MemberAdmitted, {"member_kind": "kind"})
    payload = catalog.payload(admitted("university"))
    assert isinstance(payload, registry.MemberAdmitted)
    assert (payload.member_kind, payload.kind) == (registry.MEMBER_KIND_UNIVERSITY, "university")


def test_a_typed_field_must_be_an_enum() -> None:
    with pytest.raises(ValueError, match="not an enum field"):
        enum_field(registry.MemberAdmitted, "kind")
