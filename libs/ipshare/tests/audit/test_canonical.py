"""Canonical event bytes: a layout a reader can check by hand, exact round trips, no two events alike."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipshare.audit.canonical import (
    CanonicalEvent,
    canonical_bytes_of_stored_event,
    canonical_event_bytes,
    encode_fields,
)
from ipshare.audit.errors import CanonicalFormError

AGGREGATE = UUID("12345678-1234-5678-1234-567812345678")


def test_the_layout_by_hand() -> None:
    data = canonical_event_bytes(7, AGGREGATE, 2, "AssetFiled", b'{"a":1}')
    expected = (
        b"\x00\x00\x00\x16ipshare.audit.event.v1"
        + b"\x00\x00\x00\x08" + (7).to_bytes(8, "big")
        + b"\x00\x00\x00\x24" + b"12345678-1234-5678-1234-567812345678"
        + b"\x00\x00\x00\x08" + (2).to_bytes(8, "big")
        + b"\x00\x00\x00\x0aAssetFiled"
        + b"\x00\x00\x00\x07" + b'{"a":1}'
    )  # fmt: skip
    assert data == expected


def test_a_uuid_and_its_string_give_the_same_bytes() -> None:
    assert canonical_event_bytes(0, AGGREGATE, 1, "T", b"") == canonical_event_bytes(0, str(AGGREGATE), 1, "T", b"")


@dataclass(frozen=True)
class FakeStoredEvent:
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def test_from_a_stored_event_uses_the_stable_type_name() -> None:
    stored = FakeStoredEvent(AGGREGATE, 3, "ip_registry.domain:Asset.Filed", b"{}")
    data = canonical_bytes_of_stored_event(5, stored, "ipshare.ipregistry.v1.AssetFiled")
    event = CanonicalEvent.from_bytes(data)
    assert event == CanonicalEvent(5, str(AGGREGATE), 3, "ipshare.ipregistry.v1.AssetFiled", b"{}")


events = st.builds(
    CanonicalEvent,
    position=st.integers(0, 2**64 - 1),
    originator_id=st.text(max_size=40),
    originator_version=st.integers(0, 2**64 - 1),
    type_name=st.text(max_size=40),
    state=st.binary(max_size=200),
)


@given(events)
def test_bytes_read_back_to_the_same_event(event: CanonicalEvent) -> None:
    assert CanonicalEvent.from_bytes(event.to_bytes()) == event


@given(events, events)
def test_two_different_events_never_share_bytes(a: CanonicalEvent, b: CanonicalEvent) -> None:
    assert (a == b) == (a.to_bytes() == b.to_bytes())


def test_moving_bytes_between_fields_changes_the_record() -> None:
    # Without length prefixes "ab"+"c" and "a"+"bc" would collide.
    assert canonical_event_bytes(0, "x", 1, "ab", b"c") != canonical_event_bytes(0, "x", 1, "a", b"bc")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "0 fields"),
        (b"\x00\x00", "length prefix"),
        (b"\x00\x00\x00\x09short", "inside a field"),
        (canonical_event_bytes(1, "x", 1, "T", b"") + b"\x00", "length prefix"),
        (canonical_event_bytes(1, "x", 1, "T", b"") + b"\x00\x00\x00\x00", "7 fields"),
        (encode_fields([b"other.format", b"\x00" * 8, b"x", b"\x00" * 8, b"T", b""]), "not an ipshare.audit.event"),
        (encode_fields([b"ipshare.audit.event.v1", b"\x00" * 4, b"x", b"\x00" * 8, b"T", b""]), "position field"),
        (encode_fields([b"ipshare.audit.event.v1", b"\x00" * 8, b"\xff", b"\x00" * 8, b"T", b""]), "UTF-8"),
    ],
)
def test_malformed_bytes_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(CanonicalFormError, match=message):
        CanonicalEvent.from_bytes(data)


def test_values_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="64-bit"):
        canonical_event_bytes(-1, "x", 1, "T", b"")
    with pytest.raises(ValueError, match="Unicode"):
        canonical_event_bytes(0, "\ud800", 1, "T", b"")
