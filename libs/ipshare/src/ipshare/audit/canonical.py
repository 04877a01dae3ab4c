"""Canonical bytes of a stored event: exactly what the hash chain and the Merkle tree cover.

Format ``ipshare.audit.event.v1``; every field is length-prefixed, integers are big-endian::

    record = field(b"ipshare.audit.event.v1")
             field(uint64 position)            # 0-based index of the entry in its audit log
             field(originator_id as UTF-8)     # a UUID in its lowercase hyphenated form
             field(uint64 originator_version)
             field(type name as UTF-8)         # the stable event type name, not a Python path
             field(state)                      # the stored state bytes, as the event store keeps them
    field  = uint32 length || bytes

A fixed number of length-prefixed fields read back unambiguously, so two different events never
share canonical bytes; the leading format name keeps these records apart from any other kind of
signed or hashed record (checkpoints use their own name).

``position`` is the entry's place in the audit log, counted without holes (a notification log's ids
may skip numbers after a rollback; the log assigns its own dense positions), so a missing entry
shows as a gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from ipshare.audit.errors import CanonicalFormError

EVENT_FORMAT = b"ipshare.audit.event.v1"
UINT64_MAX = 2**64 - 1
_LENGTH_BYTES = 4
_UINT64_BYTES = 8


class StoredEventLike(Protocol):
    """What canonical bytes need from an event store record (eventsourcing's StoredEvent fits)."""

    @property
    def originator_id(self) -> UUID | str: ...

    @property
    def originator_version(self) -> int: ...

    @property
    def state(self) -> bytes: ...


@dataclass(frozen=True)
class CanonicalEvent:
    """The fields of one audit log entry; ``to_bytes`` gives its canonical bytes."""

    position: int
    originator_id: str
    originator_version: int
    type_name: str
    state: bytes

    def to_bytes(self) -> bytes:
        return encode_fields(
            [
                EVENT_FORMAT,
                encode_uint64(self.position, "position"),
                encode_text(self.originator_id, "originator id"),
                encode_uint64(self.originator_version, "originator version"),
                encode_text(self.type_name, "type name"),
                bytes(self.state),
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CanonicalEvent:
        """Read canonical bytes back; raises CanonicalFormError unless they are exactly one record."""
        tag, position, originator_id, version, type_name, state = decode_fields(data, 6)
        if tag != EVENT_FORMAT:
            raise CanonicalFormError("these bytes are not an ipshare.audit.event.v1 record")
        return cls(
            position=decode_uint64(position, "position"),
            originator_id=decode_text(originator_id, "originator id"),
            originator_version=decode_uint64(version, "originator version"),
            type_name=decode_text(type_name, "type name"),
            state=state,
        )


def canonical_event_bytes(
    position: int, originator_id: UUID | str, originator_version: int, type_name: str, state: bytes
) -> bytes:
    """Canonical bytes of one event at ``position`` of its audit log."""
    return CanonicalEvent(position, str(originator_id), originator_version, type_name, state).to_bytes()


def canonical_bytes_of_stored_event(position: int, stored: StoredEventLike, type_name: str) -> bytes:
    """Canonical bytes of an event store record; ``type_name`` is its stable type (from the catalog)."""
    return canonical_event_bytes(position, stored.originator_id, stored.originator_version, type_name, stored.state)


def encode_fields(fields: Iterable[bytes]) -> bytes:
    """Concatenate fields, each preceded by its length as a big-endian uint32."""
    out = bytearray()
    for value in fields:
        if len(value) >= 2 ** (8 * _LENGTH_BYTES):
            raise ValueError(f"a field of {len(value)} bytes does not fit a canonical record")
        out += len(value).to_bytes(_LENGTH_BYTES, "big")
        out += value
    return bytes(out)


def decode_fields(data: bytes, count: int) -> list[bytes]:
    """Split a record into exactly ``count`` length-prefixed fields; anything else is malformed."""
    fields: list[bytes] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _LENGTH_BYTES:
            raise CanonicalFormError("the record ends inside a length prefix")
        length = int.from_bytes(data[offset : offset + _LENGTH_BYTES], "big")
        offset += _LENGTH_BYTES
        if len(data) - offset < length:
            raise CanonicalFormError("the record ends inside a field")
        fields.append(bytes(data[offset : offset + length]))
        offset += length
    if len(fields) != count:
        raise CanonicalFormError(f"the record has {len(fields)} fields, not {count}")
    return fields


def encode_uint64(value: int, name: str) -> bytes:
    if not 0 <= value <= UINT64_MAX:
        raise ValueError(f"the {name} {value} is not an unsigned 64-bit integer")
    return value.to_bytes(_UINT64_BYTES, "big")


def decode_uint64(field: bytes, name: str) -> int:
    if len(field) != _UINT64_BYTES:
        raise CanonicalFormError(f"the {name} field has {len(field)} bytes, not {_UINT64_BYTES}")
    return int.from_bytes(field, "big")


def encode_text(value: str, name: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"the {name} is not valid Unicode text") from error


def decode_text(field: bytes, name: str) -> str:
    try:
        return field.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CanonicalFormError(f"the {name} field is not UTF-8 text") from error
