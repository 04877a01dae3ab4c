from __future__ import annotations

import pytest

from ipshare.envelope import PayloadDecoder, UndecodableEvent
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry


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
