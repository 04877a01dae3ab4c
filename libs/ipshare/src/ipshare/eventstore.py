"""The event store every service records its facts in (eventsourcing on PostgreSQL).

Each stored event also carries who did it and why (its actor, the actor of what
caused it, the principal string, correlation and causation ids, the trace context of
the request). That metadata belongs to the application, not the domain, so a mapper
adds it on the way in and takes it off on the way out; the relay reads it back to fill
the envelope. Every use case records through `ServiceApplication.record` with its
command context, so no event is stored without them.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    Notification,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import get_topic

from ipshare.auth import SYSTEM, Principal
from ipshare.pg_recorder import TOPIC as RECORDER_TOPIC
from ipshare.pg_recorder import UnpipelinedApplicationRecorder
from ipshare.tracing import current_trace_context
from ipshare_kernel.actor import CAUSED_BY, Actor, Attribution
from ipshare_kernel.clock import SYSTEM_CLOCK, Clock
from ipshare_kernel.errors import NotFound, StaleVersion

A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class Precondition:
    """An If-Match: the command was decided on `version` of whichever of `aggregate_ids` it writes."""

    version: int
    aggregate_ids: frozenset[uuid.UUID]


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who issued a command, the request it belongs to, the version the client edited, and the trace
    it runs in (W3C `traceparent`, taken where the context is made: the relay publishes under it).

    A service reacting to another event issues commands as itself, with `caused_by` the actor of
    that event where it is known."""

    principal: Principal = SYSTEM
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    causation_id: str = ""
    precondition: Precondition | None = None
    trace: Mapping[str, str] = field(default_factory=current_trace_context)
    caused_by: Actor | None = None

    @property
    def actor(self) -> Actor:
        principal = self.principal
        member_id = str(principal.member_id) if principal.member_id else None
        return Actor(principal.subject, principal.role.value, principal.name, member_id)

    def as_metadata(self) -> dict[str, str]:
        return {
            "principal": str(self.principal),
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            **self.actor.to_metadata(),
            **(self.caused_by.to_metadata(CAUSED_BY) if self.caused_by else {}),
            **self.trace,
        }


_recording: ContextVar[CommandContext | None] = ContextVar("ipshare_recording", default=None)
META_KEY = "_meta"


def recorded_metadata(state: bytes) -> dict[str, str]:
    """The metadata kept in a stored event's state bytes, read without the event's classes (an
    auditor's copy of a log has only the bytes); empty when there is none or it cannot be read."""
    try:
        meta = json.loads(state).get(META_KEY)
    except (ValueError, AttributeError):  # not JSON, or JSON but not an object
        return {}
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class MetadataMapper(Mapper[uuid.UUID]):
    """Stores the current command's metadata beside each event's own state."""

    def to_stored_event(self, domain_event: DomainEventProtocol[uuid.UUID]) -> StoredEvent:
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        context = _recording.get()
        if context is not None:
            state[META_KEY] = context.as_metadata()
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(type(domain_event)),
            state=self.transcoder.encode(state),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[uuid.UUID]:
        return self.decode(stored_event)[0]

    def decode(self, stored_event: StoredEvent) -> tuple[DomainEventProtocol[uuid.UUID], dict[str, str]]:
        """The domain event and the metadata stored with it."""
        domain_event = super().to_domain_event(stored_event)
        meta: dict[str, str] = domain_event.__dict__.pop(META_KEY, None) or {}
        return domain_event, meta


def persistence_env(database_url: str | None, connections: int = 10) -> dict[str, str]:
    """eventsourcing settings for a PostgreSQL URL, or the in-memory store when None.

    `connections` is the pool's size, and as many again under load. Each connection keeps
    about as much memory as the largest transaction it sent, and the pool hands them out in
    turn: a process that writes large transactions one at a time should ask for one
    (measured: recording eight closes of 5,000 statements grew a process by 240 MB with ten
    connections, by 25 MB with one).
    """
    if not database_url:
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    url = urlsplit(database_url)
    query = parse_qs(url.query)
    host = query.get("host", [url.hostname or "127.0.0.1"])[0]
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_POOL_SIZE": str(connections),
        "POSTGRES_MAX_OVERFLOW": str(connections),
        "CREATE_TABLE": "y",
        "APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC,
    }


class ServiceApplication(Application[uuid.UUID]):
    """Base of each service's eventsourcing Application.

    Use cases call `self.record(context, *aggregates)` rather than `save`, so
    every stored event carries its metadata. Listeners are told after each save
    (the relay uses this to publish without waiting for its next poll).
    """

    source: ClassVar[str] = "ipshare"

    def __init__(self, env: dict[str, str] | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(env)
        self.clock = clock  # the day a command that names none takes effect on; a test fixes it
        self._listeners: list[Callable[[], None]] = []

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        return MetadataMapper(transcoder=self.construct_transcoder())

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    @property
    def metadata_mapper(self) -> MetadataMapper:
        assert isinstance(self.mapper, MetadataMapper)
        return self.mapper

    def record(self, context: CommandContext, *aggregates: Any) -> None:
        """Save in one transaction. With a precondition, an aggregate it names must have been loaded
        at that version; the store's key on (id, version) then makes the check and the write one."""
        if context.precondition is not None:
            check_precondition(context.precondition, aggregates)
        with recording(context):
            self.save(*aggregates)
        for listener in self._listeners:
            listener()

    def on_recorded(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def notifications_after(self, position: int, limit: int) -> list[Notification]:
        return list(self.recorder.select_notifications(position, limit, inclusive_of_start=False))

    def count_notifications_through(self, position: int, event_classes: Iterable[type]) -> int:
        """How many events of those classes the log holds up to and including `position`."""
        topics = [get_topic(cls) for cls in event_classes]
        if isinstance(self.recorder, UnpipelinedApplicationRecorder):
            return self.recorder.count_notifications_through(position, topics)
        found = self.recorder.select_notifications(1, max(position, 1), topics=topics)
        return sum(1 for n in found if n.id <= position)

    def find(self, kind: type[A], aggregate_id: uuid.UUID, what: str) -> A:
        """The aggregate of that kind, or NotFound naming what was asked for (e.g. "spin_off")."""
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, kind):
            raise NotFound(f"no {what.replace('_', ' ')} {aggregate_id}", **{f"{what}_id": str(aggregate_id)})
        return aggregate

    def attribution(self, aggregate_id: uuid.UUID, version: int) -> Attribution:
        """Who recorded that version of the aggregate (read from the event's stored metadata)."""
        stored = self.recorder.select_events(aggregate_id, gt=version - 1, lte=version, limit=1)
        if not stored:
            raise NotFound(f"no version {version} of {aggregate_id}", aggregate_id=str(aggregate_id))
        return Attribution.of(self.metadata_mapper.decode(stored[0])[1])

    def created_ids(self, created: type[DomainEventProtocol[uuid.UUID]]) -> list[uuid.UUID]:
        """Ids of every aggregate created by that event class, in the order they were recorded."""
        topic = get_topic(created)
        ids: list[uuid.UUID] = []
        position = 0
        while batch := self.recorder.select_notifications(position, 1000, topics=[topic], inclusive_of_start=False):
            ids.extend(uuid.UUID(str(n.originator_id)) for n in batch)
            position = batch[-1].id
        return ids


def check_precondition(precondition: Precondition, aggregates: Iterable[Any]) -> None:
    """StaleVersion when a named aggregate about to be written was loaded at another version."""
    for aggregate in aggregates:
        pending = aggregate.pending_events
        if not pending or aggregate.id not in precondition.aggregate_ids:
            continue
        loaded = pending[0].originator_version - 1
        if loaded != precondition.version:
            raise StaleVersion(
                f"version {precondition.version} is stale; the current version is {loaded}", current_version=loaded
            )


@contextlib.contextmanager
def recording(context: CommandContext) -> Iterator[None]:
    token = _recording.set(context)
    try:
        yield
    finally:
        _recording.reset(token)
