"""Facts as a replay reads them off the source topics: stated, deduplicated, numbered and dated."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple, Protocol

from ipshare.envelope import PayloadDecoder, UndecodableEvent, decode_envelope
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from revenue_share.adapters.inbox import Body, InboxProjection, fact_stated
from revenue_share.replay import LearnedAt


class SourceMessage(Protocol):
    """What a replay needs of a message (a Kafka `ConsumerRecord` has it)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


class DatedFact(NamedTuple):
    seq: int
    fact_id: str
    kind: str
    body: Body
    topic: str
    position: int
    recorded_at: datetime  # as the live service learned it


def stated(decoder: PayloadDecoder, message: SourceMessage) -> tuple[EventEnvelope, str, Body] | None:
    """The envelope and the (kind, body) of the fact a message states, or None."""
    try:
        envelope = decode_envelope(message.value)
    except UndecodableEvent:
        return None  # the live consumer dead-lettered it too
    fact = fact_in(decoder, envelope)
    return None if fact is None else (envelope, *fact)


def fact_in(decoder: PayloadDecoder, envelope: EventEnvelope) -> tuple[str, Body] | None:
    """The (kind, body) of the fact an envelope states, or None (also when the live consumer
    would have dead-lettered it)."""
    if not decoder.knows(envelope.type):
        return None
    try:
        return fact_stated(envelope.aggregate_id, decoder.decode(envelope))
    except UndecodableEvent:
        return None


class FactReader:
    """The facts in the source topics' messages as the live inbox kept them: the first of any
    re-sent event, numbered in reading order and dated as the live service learned it.

    `dedupe=False` passes re-sent events on, for a reader that ignores them itself (a ledger
    is idempotent by fact id): it saves keeping a million ids twice.
    """

    def __init__(self, learned_at: LearnedAt, dedupe: bool = True) -> None:
        self.facts = 0
        self._learned_at = learned_at
        self._seen: set[str] | None = set() if dedupe else None
        self._decoder = InboxProjection.decoder

    def new_facts(self, messages: Iterable[SourceMessage]) -> Iterator[DatedFact]:
        for message in messages:
            found = stated(self._decoder, message)
            if found is None:
                continue
            envelope, kind, body = found
            fact_id = envelope.event_id
            if self._seen is not None:
                if fact_id in self._seen:
                    continue  # a re-sent event is the same fact: the first one counts
                self._seen.add(fact_id)
            self.facts += 1
            position = envelope.position
            recorded_at = self._learned_at(message.topic, message.partition, position)
            yield DatedFact(self.facts, fact_id, kind, body, message.topic, position, recorded_at)
