"""Rebuild revenue-share from the topics into a fresh database, and check every issued statement.

1. Read revenue-share's own topic: the periods, their closes (with the marks of what each
   close had applied) and the issued statements.
2. Read the ip-registry, commercialization and incubation topics from the beginning and
   keep the facts the inbox would keep.
3. Date each fact as the live service learned it (`replay.dated_rows`), COPY the rows
   into the `facts` table of a fresh database, and record the periods in its event store.
4. Recompute every close from that database and record it; compare each statement hash
   with the issued one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from aiokafka import ConsumerRecord

from ipshare import bus
from ipshare.auth import Principal, Role
from ipshare.consumer import InboundEvent, consumer_metadata
from ipshare.database import drop_database, open_engine
from ipshare.envelope import PayloadDecoder, UndecodableEvent, decode_envelope
from ipshare.eventstore import CommandContext, persistence_env
from ipshare.settings import BusSettings
from ipshare_contracts.revenueshare.v1 import events_pb2 as pb
from revenue_share.adapters.inbox import FactRow, InboxProjection, fact_of, facts, facts_after, metadata
from revenue_share.application import RevenueShareApplication
from revenue_share.catalog import SOURCE
from revenue_share.domain.facts import Payee, PayeeKind
from revenue_share.domain.policy_versions import Policy, policy_of
from revenue_share.replay import (
    IssuedClose,
    IssuedHistory,
    PeriodCheck,
    SourceFact,
    dated_rows,
    issued_summary,
    period_of,
    recompute,
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
    try:
        envelope = decode_envelope(record.value)
        if not decoder.knows(envelope.type):
            return None
        inbound = InboundEvent(envelope, decoder.decode(envelope))
    except UndecodableEvent:
        return None  # the live consumer dead-lettered it too
    fact = fact_of(inbound)
    if fact is None:
        return None
    kind, body = fact
    return SourceFact(record.topic, record.partition, envelope.position, envelope.event_id, kind, body)


async def rebuild(settings: BusSettings, database_url: str, progress: Progress) -> ReplayReport:
    """Rebuild into `database_url` (dropped first: it must not be the live database) and check."""
    history = await read_history(settings, progress)
    source, messages = await read_facts(settings, progress)
    rows = dated_rows(source, history.closes, datetime.now(UTC))
    origin = {f.fact_id: f for f in source}
    await drop_database(database_url)
    engine = await open_engine(database_url, metadata, consumer_metadata)
    try:
        async with engine.begin() as conn:
            raw = await conn.get_raw_connection()
            records = [
                (r.seq, r.fact_id, r.kind, json.dumps(r.body), origin[r.fact_id].topic,
                 origin[r.fact_id].position, r.recorded_at)
                for r in rows
            ]  # fmt: skip
            columns = ["seq", "fact_id", "kind", "body", "source_topic", "source_position", "recorded_at"]
            driver = raw.driver_connection
            assert driver is not None
            await driver.copy_records_to_table(facts.name, records=records, columns=columns)
        progress("facts copied", len(rows), len(rows))
        async with engine.connect() as conn:
            stored = await facts_after(conn, 0)
    finally:
        await engine.dispose()
    checks = await asyncio.to_thread(_record_closes, database_url, stored, history, progress)
    return ReplayReport(database_url, messages, len(rows), checks)


def _record_closes(
    database_url: str, rows: list[FactRow], history: IssuedHistory, progress: Progress
) -> list[PeriodCheck]:
    """Recompute every close from the rebuilt facts and record periods and closes in the new event store."""
    checks = recompute(rows, history)
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
            progress("periods recomputed", done, len(checks))
    finally:
        app.close()
    return checks
