"""Rebuild revenue-share from the topics into a fresh database, and check every issued statement.

1. Read revenue-share's own topic: the periods, their closes (with the marks of what each
   close had applied) and the issued statements.
2. Read the ip-registry, commercialization and incubation topics from the beginning: each
   fact the inbox would keep is dated as the live service learned it (`replay.LearnedAt`)
   and added to a ledger; a second process reads the same topics and COPYs the facts into
   the `facts` table of a fresh database meanwhile.
3. Close every period again on that ledger, record periods, policies and closes in the new
   event store, and compare each statement hash with the issued one.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import msgspec
from aiokafka import ConsumerRecord

from ipshare import bus
from ipshare.auth import Principal, Role
from ipshare.consumer import consumer_metadata
from ipshare.database import drop_database, indexes_built_after, open_engine
from ipshare.envelope import PayloadDecoder, UndecodableEvent, decode_envelope
from ipshare.eventstore import CommandContext, persistence_env
from ipshare.heap import building_long_lived_state
from ipshare.settings import BusSettings
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_contracts.revenueshare.v1 import events_pb2 as pb
from revenue_share.adapters.inbox import Body, FactRow, InboxProjection, fact_stated, facts, metadata
from revenue_share.application import RevenueShareApplication
from revenue_share.catalog import SOURCE
from revenue_share.domain.facts import Payee, PayeeKind
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy_versions import Policy, policy_of
from revenue_share.ledger_feed import add_fact
from revenue_share.replay import (
    IssuedClose,
    IssuedHistory,
    LearnedAt,
    PeriodCheck,
    SourceFact,
    close_again,
    issued_summary,
    period_of,
)

Progress = Callable[[str, int, int | None], None]  # (stage, done, total or None)
REPLAY = CommandContext(Principal(Role.ADMIN, "replay"), correlation_id="replay")  # re-records policies too
_OWN = PayloadDecoder([pb.PeriodOpened, pb.PeriodClosed, pb.StatementIssued, pb.PolicyVersionRecorded])


@dataclass(frozen=True, slots=True)
class ReplayReport:
    database_url: str
    messages: int
    facts: int
    checks: list[PeriodCheck]

    @property
    def identical(self) -> bool:
        return all(c.identical for c in self.checks)


async def read_history(settings: BusSettings, progress: Progress) -> IssuedHistory:
    history = IssuedHistory()
    closes: list[IssuedClose] = []
    read = 0
    async for batch in bus.read_from_beginning(settings, [bus.topic_of(SOURCE)]):
        for record in batch:
            _add_issued(history, closes, record)
        read += len(batch)
        progress("revenue-share topic", read, None)
    history.closes = sorted(closes, key=lambda c: c.closed_at)
    return history


def _add_issued(history: IssuedHistory, closes: list[IssuedClose], record: ConsumerRecord[bytes, bytes]) -> None:
    envelope = decode_envelope(record.value)
    if not _OWN.knows(envelope.type):
        return
    match _OWN.decode(envelope):
        case pb.PeriodOpened() as opened:
            history.periods.append(period_of(opened.period_id, opened.start, opened.end))
        case pb.PeriodClosed() as closed:
            marks = {(m.topic, m.partition): m.position for m in closed.marks}
            closed_at = datetime.fromisoformat(closed.closed_at)
            closes.append(IssuedClose(closed.period_id, closed_at, closed.statement_hash, marks, closed.statements))
        case pb.StatementIssued() as issued:
            summary = issued_summary(issued.lines, _payee(issued))
            history.statements.setdefault(issued.period_id, []).append(summary)
        case pb.PolicyVersionRecorded() as recorded:
            history.policies.append(policy_from_message(recorded))


def policy_from_message(message: pb.PolicyVersionRecorded) -> Policy:
    return policy_of(
        {
            "version": message.version, "scope": message.scope, "member_id": message.member_id,
            "effective_date": date.fromisoformat(message.effective_date),
            "recorded_at": datetime.fromisoformat(message.recorded_at), "set_by": message.set_by,
            "fee_bps": message.fee_bps, "recover_costs": message.recover_costs,
            "cost_cap_bps": message.cost_cap_bps if message.HasField("cost_cap_bps") else None,
            "researcher_brackets": [{"from_amount": b.from_amount, "researchers_bps": b.researchers_bps}
                                    for b in message.researcher_brackets],
            "minimum_payout": dict(message.minimum_payout),
            "split_brackets": [{"from_amount": b.from_amount, "split": dict(b.split)} for b in message.split_brackets],
        }
    )  # fmt: skip


def _payee(issued: pb.StatementIssued) -> str:
    """As `str(Payee)` spells it in a statement summary."""
    return str(Payee(PayeeKind(issued.payee_kind), issued.payee_id, issued.payee_account))


async def read_facts(settings: BusSettings, progress: Progress) -> tuple[list[SourceFact], int]:
    """The facts on the source topics (the first of any re-sent event), and how many messages were read."""
    projection = InboxProjection()
    found: dict[str, SourceFact] = {}
    read = 0
    async for batch in bus.read_from_beginning(settings, projection.topics):
        for record in batch:
            fact = _fact_of(projection.decoder, record)
            if fact is not None and fact.fact_id not in found:
                found[fact.fact_id] = fact
        read += len(batch)
        progress("source topics", read, None)
    return list(found.values()), read


def _fact_of(decoder: PayloadDecoder, record: ConsumerRecord[bytes, bytes]) -> SourceFact | None:
    stated = _stated(decoder, record)
    if stated is None:
        return None
    envelope, kind, body = stated
    return SourceFact(record.topic, record.partition, envelope.position, envelope.event_id, kind, body)


def _stated(decoder: PayloadDecoder, record: ConsumerRecord[bytes, bytes]) -> tuple[EventEnvelope, str, Body] | None:
    """The envelope and the (kind, body) of the fact a message states, or None."""
    try:
        envelope = decode_envelope(record.value)
        if not decoder.knows(envelope.type):
            return None
        fact = fact_stated(envelope.aggregate_id, decoder.decode(envelope))
    except UndecodableEvent:
        return None  # the live consumer dead-lettered it too
    return None if fact is None else (envelope, *fact)


DatedFact = tuple[int, str, str, Body, str, int, datetime]  # seq, id, kind, body, topic, position, learned


class FactReader:
    """The facts on the source topics as the live inbox kept them: the first of any re-sent
    event, numbered in reading order and dated as the live service learned it.

    `dedupe=False` passes re-sent events on for a reader that ignores them itself (a ledger
    is idempotent by fact id), which saves keeping a million ids twice.
    """

    def __init__(self, learned_at: LearnedAt, dedupe: bool = True) -> None:
        self.facts = 0
        self._learned_at = learned_at
        self._seen: set[str] | None = set() if dedupe else None
        self._decoder = InboxProjection.decoder

    def new_facts(self, batch: list[ConsumerRecord[bytes, bytes]]) -> Iterator[DatedFact]:
        for record in batch:
            stated = _stated(self._decoder, record)
            if stated is None:
                continue
            envelope, kind, body = stated
            fact_id = envelope.event_id
            if self._seen is not None:
                if fact_id in self._seen:
                    continue  # a re-sent event is the same fact: the first one counts
                self._seen.add(fact_id)
            self.facts += 1
            position = envelope.position
            recorded_at = self._learned_at(record.topic, record.partition, position)
            yield self.facts, fact_id, kind, body, record.topic, position, recorded_at


class FactLoader:
    """Reads the source topics once into a ledger."""

    def __init__(self, learned_at: LearnedAt) -> None:
        self.ledger = Ledger()
        self._reader = FactReader(learned_at, dedupe=False)

    @property
    def facts(self) -> int:
        return self._reader.facts

    def take(self, batch: list[ConsumerRecord[bytes, bytes]]) -> None:
        for seq, fact_id, kind, body, _, _, recorded_at in self._reader.new_facts(batch):
            add_fact(self.ledger, FactRow(seq, fact_id, kind, body, recorded_at))

    async def load(self, settings: BusSettings, progress: Progress) -> int:
        """Every fact into the ledger; returns how many messages were read."""
        read = 0
        async for batch in bus.read_from_beginning(settings, InboxProjection.topics):
            self.take(batch)
            read += len(batch)
            progress("source topics", read, None)
        return read


def copy_facts(settings: BusSettings, database_url: str, learned_at: LearnedAt) -> int:
    """Read the source topics on its own and COPY every fact into the `facts` table, in one
    transaction; returns how many. The replay runs it in a second process, beside the ledger."""
    return asyncio.run(_copy_facts(settings, database_url, FactReader(learned_at)))


async def _copy_facts(settings: BusSettings, database_url: str, reader: FactReader) -> int:
    """Each batch's COPY runs while the next batch is read and decoded, so PostgreSQL works on
    its own core. The decoding runs in a worker thread: on the event loop it would hold the
    loop, and the COPY would only move between batches."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(), indexes_built_after(conn, facts.name):
            copying = None
            async for batch in bus.read_from_beginning(settings, InboxProjection.topics):
                rows = await asyncio.to_thread(_rows, reader, batch)
                if copying is not None:
                    await copying
                copying = asyncio.ensure_future(conn.copy_records_to_table(facts.name, records=rows, columns=_COLUMNS))
            if copying is not None:
                await copying
    finally:
        await conn.close()
    return reader.facts


def _rows(reader: FactReader, batch: list[ConsumerRecord[bytes, bytes]]) -> list[tuple[Any, ...]]:
    return [
        (seq, fact_id, kind, _json(body), topic, position, recorded_at)
        for seq, fact_id, kind, body, topic, position, recorded_at in reader.new_facts(batch)
    ]


_COLUMNS = ["seq", "fact_id", "kind", "body", "source_topic", "source_position", "recorded_at"]
_encoder = msgspec.json.Encoder()


def _json(body: dict[str, Any]) -> str:
    return _encoder.encode(body).decode()


async def rebuild(settings: BusSettings, database_url: str, progress: Progress) -> ReplayReport:
    """Rebuild into `database_url` (dropped first: it must not be the live database) and check.

    Two processes read the source topics side by side: a second one COPYs the facts into the
    new database while this one builds the ledger, closes the periods again and records them.
    Both date and number the facts alike; a ledger's statements do not depend on their order.
    """
    history = await read_history(settings, progress)
    learned_at = LearnedAt(history.closes, datetime.now(UTC))
    await drop_database(database_url)
    await (await open_engine(database_url, metadata, consumer_metadata)).dispose()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as copier:
        copied = asyncio.get_running_loop().run_in_executor(copier, copy_facts, settings, database_url, learned_at)
        try:
            with building_long_lived_state():  # the ledger and the statements stay until the end
                loader = FactLoader(learned_at)
                messages = await loader.load(settings, progress)
                checks = await asyncio.to_thread(close_again, loader.ledger, history)
            await asyncio.to_thread(_record_closes, database_url, history, checks, progress)
        finally:
            facts_copied = await copied  # its failure is the replay's too
    progress("facts copied", facts_copied, facts_copied)
    return ReplayReport(database_url, messages, facts_copied, checks)


def _record_closes(database_url: str, history: IssuedHistory, checks: list[PeriodCheck], progress: Progress) -> None:
    """Record the policies, the periods and the recomputed closes in the new event store."""
    app = RevenueShareApplication(persistence_env(database_url))
    try:
        for policy in history.policies:
            app.record_policy(REPLAY, policy)
        for period in sorted(history.periods, key=lambda p: p.start):
            app.open_period(REPLAY, period.period_id, period.start, period.end)
        closes = {c.period_id: c for c in history.closes}
        for done, check in enumerate(checks, start=1):
            close = closes[check.period_id]
            marks = [{"topic": t, "partition": p, "position": pos} for (t, p), pos in sorted(close.marks.items())]
            app.record_close(REPLAY, check.period_id, close.closed_at, check.statements, marks)
            progress("periods recorded", done, len(checks))
    finally:
        app.close()
