"""Rebuild revenue-share from the topics into a fresh database, and check every issued statement.

1. Read revenue-share's own topic: the periods, their closes (with the marks of what each
   close had applied) and the issued statements.
2. Read the ip-registry, commercialization and incubation topics from the beginning: each
   fact the inbox would keep is dated as the live service learned it (`replay.LearnedAt`)
   and added to a ledger; a second process (`replay_writer`) reads the same topics and
   COPYs the facts into the `facts` table of a fresh database meanwhile.
3. Close every period again on that ledger and compare each statement hash with the issued
   one; the second process records the policies, the periods and each close in the new
   event store as they come.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import ConsumerRecord

from ipshare import bus
from ipshare.database import drop_database
from ipshare.envelope import PayloadDecoder, decode_envelope
from ipshare.heap import building_long_lived_state
from ipshare.schema import migrate
from ipshare.settings import BusSettings
from ipshare.typed_fields import iso_date_of, required_date_of, required_instant_of, text_of
from ipshare_contracts.revenueshare.v1 import events_pb2 as pb
from ipshare_kernel.clock import SYSTEM_CLOCK, Clock
from revenue_share.adapters.inbox import InboxProjection
from revenue_share.catalog import SOURCE, own_events
from revenue_share.domain.facts import Payee, PayeeKind
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy_versions import Policy, policy_of
from revenue_share.ledger_feed import add_fact
from revenue_share.migrations import schema
from revenue_share.replay import (
    IssuedClose,
    IssuedHistory,
    LearnedAt,
    PeriodCheck,
    PolicyLogEntry,
    SourceFact,
    closes_again,
    issued_digest,
    period_of,
    policies_in_force,
)
from revenue_share.replay_writer import ReplayWriter
from revenue_share.source_facts import FactReader, stated

Progress = Callable[[str, int, int | None], None]  # (stage, done, total or None)
_OWN = own_events()


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
    seen: set[str] = set()  # event ids: a relay may publish a batch twice, and a re-sent event keeps its id
    log: list[PolicyLogEntry] = []  # versions and close times by position
    read = 0
    async for batch in bus.read_from_beginning(settings, [bus.topic_of(SOURCE)]):
        for record in batch:
            _add_issued(history, closes, seen, log, record)
        read += len(batch)
        progress("revenue-share topic", read, None)
    history.closes = sorted(closes, key=lambda c: c.closed_at)
    history.policies = policies_in_force(log)  # as the live service keeps them
    return history


def _add_issued(
    history: IssuedHistory,
    closes: list[IssuedClose],
    seen: set[str],
    log: list[PolicyLogEntry],
    record: ConsumerRecord[bytes, bytes],
) -> None:
    envelope = decode_envelope(record.value)
    if not _OWN.knows(envelope.type) or envelope.event_id in seen:
        return
    seen.add(envelope.event_id)
    match _OWN.decode(envelope):
        case pb.PeriodOpened() as opened:
            history.periods.append(
                period_of(opened.period_id, iso_date_of(opened, "start_day"), iso_date_of(opened, "end_day"))
            )
        case pb.PeriodClosed() as closed:
            marks = {(m.topic, m.partition): m.position for m in closed.marks}
            closed_at = required_instant_of(closed, "close_time")
            closes.append(IssuedClose(closed.period_id, closed_at, closed.statement_hash, marks, closed.statements))
            log.append((envelope.position, closed_at))
        case pb.StatementIssued() as issued:
            history.statements.setdefault(issued.period_id, {})[payee_of(issued)] = issued_digest(issued.lines)
        case pb.PolicyVersionRecorded() as recorded:
            log.append((envelope.position, policy_from_message(recorded)))


def policy_from_message(message: pb.PolicyVersionRecorded) -> Policy:
    return policy_of(
        {
            "version": message.version, "scope": text_of(message, "policy_scope"), "member_id": message.member_id,
            "effective_date": required_date_of(message, "effective_day"),
            "recorded_at": required_instant_of(message, "record_time"), "set_by": message.set_by,
            "fee_bps": message.fee_bps, "recover_costs": message.recover_costs,
            "cost_cap_bps": message.cost_cap_bps if message.HasField("cost_cap_bps") else None,
            "researcher_brackets": [{"from_amount": b.from_amount, "researchers_bps": b.researchers_bps,
                                     "currency": b.currency} for b in message.researcher_brackets],
            "minimum_payout": dict(message.minimum_payout),
            "split_brackets": [{"from_amount": b.from_amount, "split": dict(b.split), "currency": b.currency}
                               for b in message.split_brackets],
        }
    )  # fmt: skip


def payee_of(issued: pb.StatementIssued) -> str:
    """As `str(Payee)` spells it: the key of a period's issued statements."""
    return str(Payee(PayeeKind(text_of(issued, "payee_type")), issued.payee_id, issued.payee_account))


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
    found = stated(decoder, record)
    if found is None:
        return None
    envelope, kind, body = found
    return SourceFact(record.topic, record.partition, envelope.position, envelope.event_id, kind, body)


class FactLoader:
    """Reads the source topics once into a ledger."""

    def __init__(self, learned_at: LearnedAt) -> None:
        self.ledger = Ledger()
        self._reader = FactReader(learned_at, dedupe=False)

    def take(self, batch: list[ConsumerRecord[bytes, bytes]]) -> None:
        for fact in self._reader.new_facts(batch):
            add_fact(self.ledger, fact)

    async def load(self, settings: BusSettings, progress: Progress) -> int:
        """Every fact into the ledger; returns how many messages were read."""
        read = 0
        async for batch in bus.read_from_beginning(settings, InboxProjection.topics):
            self.take(batch)
            read += len(batch)
            progress("source topics", read, None)
        return read


async def rebuild(
    settings: BusSettings, database_url: str, progress: Progress, clock: Clock = SYSTEM_CLOCK
) -> ReplayReport:
    """Rebuild into `database_url` (dropped first: it must not be the live database) and check;
    facts learned after the last close are dated the clock's now.

    A second process (`replay_writer`) reads the topics as well and COPYs the facts into the
    new database while this one builds the ledger; it then records each close this one
    recomputes while this one computes the next.
    """
    writer = ReplayWriter()
    writer.start()
    try:
        history, _ = await asyncio.gather(read_history(settings, progress), _fresh(database_url))
        learned_at = LearnedAt(history.closes, clock.now())
        writer.begin(settings, database_url, learned_at, history.policies, history.periods)
        with building_long_lived_state(collect=False):  # kept until the replay ends, soon after
            loader = FactLoader(learned_at)
            messages = await loader.load(settings, progress)
            checks = await asyncio.to_thread(_close_and_send, loader.ledger, history, writer, progress)
        copied = await writer.finish(lambda done: progress("periods recorded", done, len(checks)))
    finally:
        writer.stop()
    progress("facts copied", copied, copied)
    return ReplayReport(database_url, messages, copied, checks)


async def _fresh(database_url: str) -> None:
    """A new database with revenue-share's tables, made while the history is read."""
    await drop_database(database_url)
    await migrate(database_url, schema)


def _close_and_send(
    ledger: Ledger, history: IssuedHistory, writer: ReplayWriter, progress: Progress
) -> list[PeriodCheck]:
    """Close every period again, sending each close to the writer as soon as it is computed."""
    closes = {c.period_id: c for c in history.closes}
    checks = []
    for check in closes_again(ledger, history):
        close = closes[check.period_id]
        marks = [{"topic": t, "partition": p, "position": pos} for (t, p), pos in sorted(close.marks.items())]
        writer.record(check.period_id, close.closed_at, check.statements, marks)
        checks.append(check)
        progress("periods recomputed", len(checks), len(history.closes))
    return checks
