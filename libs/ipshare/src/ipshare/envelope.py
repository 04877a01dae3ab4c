"""The envelope codec: stored domain events <-> protobuf envelopes on the bus.

The stored event's topic is a Python class path and must never reach the wire;
an `EventCatalog` maps each domain event class to its protobuf payload, whose
full name (`ipshare.ipregistry.v1.AssetRegistered`) is the versioned type name.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

from eventsourcing.domain import DomainEventProtocol
from google.protobuf import descriptor_pool, json_format
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from ipshare.typed_fields import fill_typed
from ipshare_contracts.envelope.v1 import envelope_pb2
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_kernel.actor import CAUSED_BY, Actor

EVENT_ID_NAMESPACE = uuid.UUID("5b0f1c2e-8d7a-4c39-9e51-2f4f6b0a9d13")
# Attributes every eventsourcing event has; the envelope carries them instead.
_ENVELOPE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


class UndecodableEvent(ValueError):
    """A message on the bus that is not an envelope we can read."""


def event_id(source: str, aggregate_id: uuid.UUID | str, version: int) -> str:
    """Deterministic: the same stored event always gets the same id."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{source}/{aggregate_id}/{version}"))


def jsonable(value: Any) -> Any:
    """Plain JSON values for protobuf's json_format (ids and dates as strings)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


class EventCatalog:
    """Which domain events a service publishes, and as what payload type; and which it keeps.

    Published events are the service's integration contract: their payloads are the messages
    of its `events.proto`, and other services consume them. Private events are bookkeeping
    only the service's own event store needs; the relay never puts them on the topic. Every
    event class of a service is one or the other (the contract tests hold each service to it).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._payloads: dict[type, type[Message]] = {}
        self._private: set[type] = set()

    def register(self, event_class: type, payload: type[Message]) -> None:
        if event_class in self._private:
            raise ValueError(f"{event_class.__qualname__} is kept private; it cannot be published too")
        self._payloads[event_class] = payload

    def register_all(self, entries: Iterable[tuple[type, type[Message]]]) -> None:
        for event_class, payload in entries:
            self.register(event_class, payload)

    def keep_private(self, event_classes: Iterable[type]) -> None:
        """Events the relay must never publish."""
        for event_class in event_classes:
            if event_class in self._payloads:
                raise ValueError(f"{event_class.__qualname__} is published; it cannot be kept private too")
            self._private.add(event_class)

    def published(self) -> frozenset[type]:
        return frozenset(self._payloads)

    def private(self) -> frozenset[type]:
        return frozenset(self._private)

    def publishes(self, event: object) -> bool:
        return type(event) in self._payloads

    def type_name(self, event_class: type) -> str | None:
        """The versioned type name events of that class are published as, or None if they are not."""
        payload = self._payloads.get(event_class)
        return payload.DESCRIPTOR.full_name if payload else None

    def payload_types(self) -> list[type[Message]]:
        return list(self._payloads.values())

    def payload_type(self, event_class: type) -> type[Message]:
        return self._payloads[event_class]

    def payload(self, event: object) -> Message:
        """The event's attributes as the payload's text fields, and every typed twin filled from them."""
        state = jsonable({k: v for k, v in vars(event).items() if k not in _ENVELOPE_FIELDS})
        message = json_format.ParseDict(state, self._payloads[type(event)]())
        fill_typed(message)
        return message

    def envelope(self, position: int, event: DomainEventProtocol[uuid.UUID], meta: Mapping[str, str]) -> EventEnvelope:
        payload = self.payload(event)
        envelope = EventEnvelope(
            event_id=event_id(self.source, event.originator_id, event.originator_version),
            source=self.source,
            type=payload.DESCRIPTOR.full_name,
            aggregate_id=str(event.originator_id),
            aggregate_version=event.originator_version,
            position=position,
            effective_date=_effective_date(event),
            principal=meta.get("principal", ""),
            correlation_id=meta.get("correlation_id", ""),
            causation_id=meta.get("causation_id", ""),
        )
        if actor := Actor.from_metadata(meta):
            envelope.actor.CopyFrom(actor_message(actor))
        if cause := Actor.from_metadata(meta, CAUSED_BY):
            envelope.caused_by.CopyFrom(actor_message(cause))
        occurred_at: datetime = getattr(event, "timestamp")  # noqa: B009 -- every aggregate event has one; the protocol does not say so
        envelope.occurred_at.FromDatetime(occurred_at)
        fill_typed(envelope)
        envelope.payload.Pack(payload)
        return envelope


def actor_message(actor: Actor) -> envelope_pb2.Actor:
    return envelope_pb2.Actor(subject=actor.subject, name=actor.name or "", member_id=actor.member_id or "",
                              role=actor.role)  # fmt: skip


def actor_of(message: envelope_pb2.Actor) -> Actor | None:
    """The actor an envelope field names; None when the field is unset (recorded before actors were)."""
    if not message.subject:
        return None
    return Actor(message.subject, message.role, message.name or None, message.member_id or None)


def _effective_date(event: object) -> str:
    value = getattr(event, "effective_date", None)
    return value.isoformat() if isinstance(value, date) else str(value or "")


def written_alike(current: EventEnvelope, published: EventEnvelope) -> bool:
    """Whether a published envelope says what the current one says, in this release's form or an earlier one's.

    An earlier release wrote no typed twins (in the envelope or its payload): they are filled from
    their text on both sides before comparing, so an event published then still matches the envelope
    a service derives from its store now. Any other difference, the text included, is a difference.
    """
    if current == published:
        return True
    return _comparable(current) == _comparable(published)


def _comparable(envelope: EventEnvelope) -> tuple[EventEnvelope, Message | None]:
    """The envelope with every typed twin filled, and its payload apart when this process knows its type."""
    filled = EventEnvelope()
    filled.CopyFrom(envelope)
    fill_typed(filled)
    payload = _known_payload(filled)
    if payload is not None:
        fill_typed(payload)
        filled.ClearField("payload")
    return filled, payload


def _known_payload(envelope: EventEnvelope) -> Message | None:
    try:
        payload = GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(envelope.type))()
        return payload if envelope.payload.Unpack(payload) else None
    except (KeyError, DecodeError):
        return None


def decode_envelope(data: bytes | None) -> EventEnvelope:
    if not data:
        raise UndecodableEvent("empty message")
    envelope = EventEnvelope()
    try:
        envelope.ParseFromString(data)
    except DecodeError as exc:
        raise UndecodableEvent(f"not an EventEnvelope: {exc}") from exc
    if not envelope.event_id or not envelope.type or not envelope.source:
        raise UndecodableEvent("envelope lacks event_id, type or source")
    return envelope


class PayloadDecoder:
    """Unpacks envelope payloads into their typed protobuf messages."""

    def __init__(self, payload_types: Iterable[type[Message]]) -> None:
        self._types = {t.DESCRIPTOR.full_name: t for t in payload_types}
        # What Any.Pack writes; compared as a string because Any.Unpack's own check is
        # pure Python and costs more than the parse on a replay of a million events.
        self._urls = {name: f"type.googleapis.com/{name}" for name in self._types}

    def knows(self, type_name: str) -> bool:
        return type_name in self._types

    def decode(self, envelope: EventEnvelope) -> Message:
        message_class = self._types.get(envelope.type)
        if message_class is None:
            raise UndecodableEvent(f"unknown event type {envelope.type!r}")
        payload = envelope.payload
        if payload.type_url != self._urls[envelope.type]:
            raise UndecodableEvent(f"payload is not a {envelope.type}")
        try:
            return message_class.FromString(payload.value)
        except DecodeError as exc:
            raise UndecodableEvent(f"payload is not a readable {envelope.type}: {exc}") from exc
