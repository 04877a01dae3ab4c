"""The revenue-share use cases.

Two stores meet here. The event store (eventsourcing, synchronous) holds what
revenue-share decides: settlement periods, their closes and the issued statements.
The inbox (SQLAlchemy async) holds what it learned from the other services. The
ledger, the pure computation, is rebuilt from both and kept up to date in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar

from aiokafka.errors import KafkaError
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ipshare.auth import Principal
from ipshare.consumer import applied_marks
from ipshare.eventstore import CommandContext, ServiceApplication
from ipshare.heap import building_long_lived_state
from ipshare.permissions import Permission, may, own_member, require
from ipshare_kernel.actor import Actor
from ipshare_kernel.errors import AlreadyExists, Conflict, DomainError, Forbidden, NotFound
from revenue_share.adapters.inbox import InboxProjection, facts, facts_after
from revenue_share.adapters.source_topics import EndsUnknown, Offsets, SourceTopics, Watch
from revenue_share.domain.facts import Payee, PayeeKind, Period
from revenue_share.domain.floor import FloorShortfall
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import CenterPolicy
from revenue_share.domain.policy_versions import Policy, PolicyVersion, policy_of
from revenue_share.domain.settlement import IssuedStatement, SettlementPeriod, period_key
from revenue_share.domain.statements import Reconciliation, Statement, statement_hash
from revenue_share.ledger_feed import add_fact
from revenue_share.replay import PolicyLogEntry, refused_versions

T = TypeVar("T")


def visible_to(principal: Principal, payee: Payee) -> bool:
    """Members see their own statements; finance, auditors and admins see every one."""
    if may(principal, Permission.READ_EVERYTHING):
        return True
    member = own_member(principal)
    return member is not None and payee.kind is PayeeKind.MEMBER and payee.id == str(member)


def visible_policy(principal: Principal, policy: Policy) -> bool:
    if may(principal, Permission.READ_EVERYTHING) or isinstance(policy, CenterPolicy):
        return True
    member = own_member(principal)
    return member is not None and policy.member_id == str(member)


class RevenueShareApplication(ServiceApplication):
    """Periods, closes and issued statements, event-sourced."""

    source: ClassVar[str] = "revenue-share"

    def open_period(self, ctx: CommandContext, period_id: str, start: date, end: date) -> SettlementPeriod:
        """Open the period that follows the last one (`Payouts.open_period` makes it atomic)."""
        require(ctx.principal, Permission.SETTLE_PERIODS, "open settlement periods")
        period = SettlementPeriod.open(period_id, start, end)
        calendar = Ledger()  # the consecutive rule, against the periods opened so far
        for known in self.periods():
            if known.period_id == period.period_id:
                raise AlreadyExists(f"period {known.period_id} already exists", period_id=known.period_id)
            calendar.define_period(Period(known.period_id, known.start, known.end))
        calendar.define_period(Period(period.period_id, start, end))
        self.record(ctx, period)
        return period

    def period(self, period_id: str) -> SettlementPeriod:
        try:
            period: SettlementPeriod = self.repository.get(period_key(period_id))
        except AggregateNotFoundError:
            raise NotFound(f"no period {period_id}", period_id=period_id) from None
        return period

    def closed_by(self, period: SettlementPeriod) -> Actor | None:
        """Who closed the period (the actor of its close, its last event); None while it is open, or
        for a close recorded before actors were kept."""
        if period.closed_at is None:
            return None
        return self.attribution(period.id, period.version).actor

    def periods(self) -> list[SettlementPeriod]:
        opened = self.recorder.select_notifications(0, 1_000_000, topics=[get_topic(SettlementPeriod.Opened)])
        periods: list[SettlementPeriod] = [self.repository.get(uuid.UUID(str(n.originator_id))) for n in opened]
        return sorted(periods, key=lambda p: p.start)

    def record_policy(self, ctx: CommandContext, policy: Policy) -> None:
        """Keep a policy version the ledger's guards accepted (`Payouts.set_policy`)."""
        require(ctx.principal, Permission.SET_DISTRIBUTION_POLICY, "change a distribution policy")
        self.record(ctx, PolicyVersion.of(policy))

    def policies(self) -> list[Policy]:
        """Every policy version the ledger accepted, in the order recorded (`refused_versions`)."""
        refused = self.refused_versions()
        return [policy for policy in map(self.policy, self.policy_keys()) if policy.version not in refused]

    def policy_keys(self) -> list[uuid.UUID]:
        return self.created_ids(PolicyVersion.Recorded)

    def refused_versions(self) -> set[str]:
        """Versions kept in the store though refused when posted (`replay.refused_versions`)."""
        topics = [get_topic(PolicyVersion.Recorded), get_topic(SettlementPeriod.Closed)]
        log: list[PolicyLogEntry] = []
        position = 0
        while batch := self.recorder.select_notifications(position, 1000, topics=topics, inclusive_of_start=False):
            for notification in batch:
                event = self.mapper.to_domain_event(notification)
                if isinstance(event, SettlementPeriod.Closed):
                    log.append((notification.id, event.closed_at))
                elif isinstance(event, PolicyVersion.Recorded):
                    log.append((notification.id, policy_of(vars(event))))
            position = batch[-1].id
        return refused_versions(log)

    def policy(self, key: uuid.UUID) -> Policy:
        return self.find(PolicyVersion, key, "policy version").policy

    def record_close(
        self,
        ctx: CommandContext,
        period_id: str,
        closed_at: datetime,
        statements: Sequence[Statement],
        marks: list[dict[str, Any]],
    ) -> str:
        """The close and one issued statement per payee, in one transaction; returns the statements' hash."""
        require(ctx.principal, Permission.SETTLE_PERIODS, "close settlement periods")
        period = self.period(period_id)
        digest = statement_hash(statements)
        period.close(closed_at, digest, marks, len(statements))
        self.record(ctx, period, *(_issued(s) for s in statements))
        return digest


def _issued(statement: Statement) -> IssuedStatement:
    assert statement.closed_at is not None
    return IssuedStatement(
        period_id=statement.period_id,
        payee_kind=statement.payee.kind.value,
        payee_id=statement.payee.id,
        payee_account=statement.payee.account,
        closed_at=statement.closed_at,
        lines=[
            {
                "currency": line.currency,
                "step": line.step.value,
                "amount": line.amount,
                "policy_version": line.policy_version,
                "adjustment": line.adjustment,
                "reason": line.reason,
                "sources_digest": line.sources_digest,
            }
            for line in statement.lines
        ],
        balances=[
            {
                "currency": b.currency,
                "carried_in": b.carried_in,
                "entitled": b.entitled,
                "paid": b.paid,
                "carried_out": b.carried_out,
            }
            for b in statement.balances
        ],
    )


CATCH_UP_POLL_SECONDS = 0.1


class InboxBehind(Conflict):
    """A close found the inbox behind what the source topics held when it was requested."""

    code = "inbox_behind"


# Facts read from the inbox and fed to the ledger at a time: a million rows read at once held a gigabyte.
FEED_BATCH = 50_000


class Payouts:
    """The use cases that need the ledger: provisional balances, closes, statements, reconciliation.

    One in-memory ledger per process, fed from the inbox by sequence number and from
    the event store's periods; a lock keeps it to one user at a time, and the
    computation runs off the event loop.
    """

    def __init__(
        self,
        app: RevenueShareApplication,
        engine: AsyncEngine,
        sources: SourceTopics | None = None,
        close_wait_seconds: float = 20.0,
    ) -> None:
        self.app = app
        self.engine = engine
        # Without them a close covers what the inbox has applied (tests of the ledger alone).
        self.sources = sources
        self.close_wait_seconds = close_wait_seconds
        self._ledger = Ledger()
        self._seq = 0
        self._loaded = False
        self._policy_keys: set[uuid.UUID] = set()
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return self._loaded

    async def warm(self) -> None:
        """Load the inbox and settle every closed period now, not at the first request (a million
        facts take seconds)."""
        await self._with_ledger(lambda ledger: ledger.all_statements())

    async def provisional(self, ctx: CommandContext, period_id: str) -> list[Statement]:
        statements = await self._with_ledger(lambda ledger: ledger.provisional(period_id))
        return [s for s in statements if visible_to(ctx.principal, s.payee)]

    async def statements(self, ctx: CommandContext, period_id: str) -> list[Statement]:
        statements = await self._with_ledger(lambda ledger: ledger.statements(period_id))
        return [s for s in statements if visible_to(ctx.principal, s.payee)]

    async def current(self, ctx: CommandContext, period_id: str) -> tuple[bool, list[Statement]]:
        """(provisional?, statements): as issued when the period is closed, provisional while it is open."""
        period = await asyncio.to_thread(self.app.period, period_id)
        if period.closed_at is None:
            return True, await self.provisional(ctx, period_id)
        return False, await self.statements(ctx, period_id)

    async def explain(
        self, ctx: CommandContext, period_id: str, payee_kind: str, payee_id: str, account: str = ""
    ) -> tuple[bool, list[Statement]]:
        """One payee's statements of a period (every account, or one), with the sources of each line."""
        provisional, found = await self.current(ctx, period_id)
        chosen = [s for s in found if (s.payee.kind.value, s.payee.id) == (payee_kind, payee_id)
                  and account in ("", s.payee.account)]  # fmt: skip
        if not chosen:
            raise NotFound(f"no statement for {payee_kind} {payee_id} in period {period_id}", period_id=period_id)
        return provisional, chosen

    async def statements_known_at(self, ctx: CommandContext, period_id: str, recorded_by: datetime) -> list[Statement]:
        """Recompute a period's statements with only the facts recorded up to a time (auditors' "as of").

        A time before revenue-share recorded anything is refused rather than answered with nothing:
        it is nearly always a business date taken for a recording time.
        """
        async with self.engine.connect() as conn:
            first = await conn.scalar(select(func.min(facts.c.recorded_at)))
        if first is None or recorded_by < first:
            raise DomainError(
                f"revenue-share had recorded no fact by {recorded_by.isoformat()}"
                + ("" if first is None else f" (the first was recorded at {first.isoformat()})")
                + ": known_at is when revenue-share recorded the facts, not a business date; the period's "
                "business dates are its start and end",
                field="known_at",
            )
        statements = await self._with_ledger(lambda ledger: ledger.statements_known_at(period_id, recorded_by))
        return [s for s in statements if visible_to(ctx.principal, s.payee)]

    async def reconcile(self, ctx: CommandContext, period_id: str) -> tuple[Reconciliation, ...]:
        if not may(ctx.principal, Permission.READ_EVERYTHING):
            raise Forbidden("reconciliation is for finance and auditors", role=ctx.principal.role.value)
        return await self._with_ledger(lambda ledger: ledger.reconcile(period_id))

    async def set_policy(self, ctx: CommandContext, version: Callable[[datetime], Policy]) -> Policy:
        """An admin records a policy version, checked against the statutory floors of the members it reaches.

        `version(recorded_at)` is the version as recorded now. The time is taken under the lock closes
        take, so no close has a later time and a period closed before keeps its statements; a
        refused version leaves nothing behind.
        """
        async with self._deciding() as (_, now):
            policy = version(now)

            def decide() -> Policy:
                by_admin = may(ctx.principal, Permission.SET_DISTRIBUTION_POLICY)
                self._ledger.check_policy(policy, by_admin)  # changes nothing
                self.app.record_policy(ctx, policy)
                self._ledger.add_policy(policy)  # after every close: accepted
                return policy

            return await asyncio.to_thread(decide)

    async def open_period(self, ctx: CommandContext, period_id: str, start: date, end: date) -> SettlementPeriod:
        """Open a period after the last one: two opens at once (here or in another process) take turns."""
        async with self._deciding(refresh=False):  # decided on the stored periods: no need to load the ledger
            return await asyncio.to_thread(self.app.open_period, ctx, period_id, start, end)

    async def policies(self, ctx: CommandContext) -> list[Policy]:
        """Finance, auditors and admins read every version; a member the center's and its own."""
        found = await asyncio.to_thread(self.app.policies)
        return [p for p in found if visible_policy(ctx.principal, p)]

    async def close(self, ctx: CommandContext, period_id: str) -> str:
        """Close a period on every fact learned so far, and at least on everything the source topics
        held when the close was requested; returns the hash of its statements."""
        require(ctx.principal, Permission.SETTLE_PERIODS, "close settlement periods")
        period = await asyncio.to_thread(self.app.period, period_id)
        if period.closed_at is not None:
            raise Conflict(f"period {period_id} is already closed", closed_at=period.closed_at.isoformat())
        if self.sources is not None:
            await self._inbox_reached(self.sources)
        async with self._deciding() as (conn, closed_at):
            marks = await _marks(conn)

            def decide() -> str:
                statements = self._ledger.close_period(period_id, closed_at)
                check_statutory_floor(self._ledger.floor_shortfalls(period_id))
                return self.app.record_close(ctx, period_id, closed_at, statements, marks)

            try:
                return await asyncio.to_thread(decide)
            except BaseException:
                self._reset()  # the ledger may hold a close that was not recorded
                raise

    async def _inbox_reached(self, sources: SourceTopics) -> None:
        """Wait until the inbox has applied what the source topics hold now (a receipt recorded
        before the close was requested belongs in it, though the consumer may not have it yet)."""
        try:
            async with sources.watching() as watch:
                await self._applied_up_to(watch, await watch.ends())
        except (EndsUnknown, KafkaError) as exc:
            reason = f"cannot tell how far the source topics reach, so the period stays open: {exc!r}"
            raise InboxBehind(reason) from exc

    async def _applied_up_to(self, watch: Watch, ends: Offsets) -> None:
        deadline = time.monotonic() + self.close_wait_seconds
        while behind := await watch.behind(ends):
            if time.monotonic() >= deadline:
                lag = {f"{tp.topic}/{tp.partition}": n for tp, n in sorted(behind.items())}
                raise InboxBehind(
                    f"the inbox has not yet applied {sum(behind.values())} messages the source topics held when "
                    f"the close was requested (waited {self.close_wait_seconds:g} s); close again once it has",
                    lag=lag,
                )
            await asyncio.sleep(CATCH_UP_POLL_SECONDS)

    @contextlib.asynccontextmanager
    async def _deciding(self, refresh: bool = True) -> AsyncIterator[tuple[AsyncConnection, datetime]]:
        """One decision on the ledger at a time, in this process and across processes: the inbox
        is locked against writers and other deciders (no fact may land while a close is computed:
        each is either in it or dated after it), and the ledger is brought up to date. Yields the
        connection and the database clock, the time of the decision."""
        async with self._lock, self.engine.begin() as conn:
            await conn.execute(text(f"LOCK TABLE {facts.name} IN EXCLUSIVE MODE"))
            now = await conn.scalar(text("SELECT clock_timestamp()"))
            if refresh:
                await self._refresh(conn)
            yield conn, now

    async def _with_ledger(self, compute: Callable[[Ledger], T]) -> T:
        async with self._lock:
            async with self.engine.connect() as conn:
                await self._refresh(conn)
            return await asyncio.to_thread(compute, self._ledger)

    async def _refresh(self, conn: AsyncConnection) -> None:
        # The first load reads the whole inbox: a million facts load in half the time, and later
        # full collections skip them, with the cyclic collector kept out of it.
        with building_long_lived_state() if not self._loaded else contextlib.nullcontext():
            while rows := await facts_after(conn, self._seq, FEED_BATCH):
                await asyncio.to_thread(self._feed_facts, rows)
            periods = await asyncio.to_thread(self.app.periods)
            policies = await asyncio.to_thread(self._new_policies)
            await asyncio.to_thread(self._feed_periods, periods, policies)
        self._loaded = True

    def _new_policies(self) -> list[Policy]:
        """The versions recorded since the last refresh (each aggregate is loaded once per process)."""
        fresh = [key for key in self.app.policy_keys() if key not in self._policy_keys]
        self._policy_keys.update(fresh)
        refused = self.app.refused_versions() if fresh else set()
        return [policy for policy in map(self.app.policy, fresh) if policy.version not in refused]

    def _feed_facts(self, rows: Sequence[Any]) -> None:
        for row in rows:
            add_fact(self._ledger, row)
            self._seq = row.seq

    def _feed_periods(self, periods: Sequence[SettlementPeriod], policies: Sequence[Policy]) -> None:
        for policy in policies:
            self._ledger.add_policy(policy)
        for period in periods:
            self._ledger.define_period(Period(period.period_id, period.start, period.end))
            if period.closed_at is not None:
                self._ledger.close_period(period.period_id, period.closed_at)

    def _reset(self) -> None:
        self._ledger = Ledger()
        self._seq = 0
        self._loaded = False
        self._policy_keys.clear()


def check_statutory_floor(shortfalls: Sequence[FloorShortfall]) -> None:
    """A close whose outcome leaves a state-established member's researchers under the Art. 45 floor
    is refused (422), naming each member, asset and the amounts; nothing is recorded."""
    if shortfalls:
        raise DomainError(
            "; ".join(s.message for s in shortfalls),
            shortfalls=[{"member_id": s.member_id, "asset_id": s.asset_id, "currency": s.currency,
                         "net_income": s.net_income, "researchers": s.researchers, "required": s.required}
                        for s in shortfalls],
        )  # fmt: skip


async def _marks(conn: AsyncConnection) -> list[dict[str, Any]]:
    """What the inbox had applied, per topic and partition, when the close was computed."""
    result = await conn.execute(
        select(applied_marks.c.topic, applied_marks.c.partition, applied_marks.c.position)
        .where(applied_marks.c.consumer == InboxProjection.name)
        .order_by(applied_marks.c.topic, applied_marks.c.partition)
    )
    return [{"topic": t, "partition": p, "position": pos} for t, p, pos in result]
