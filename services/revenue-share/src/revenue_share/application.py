"""The revenue-share use cases.

Two stores meet here. The event store (eventsourcing, synchronous) holds what
revenue-share decides: settlement periods, their closes and the issued statements.
The inbox (SQLAlchemy async) holds what it learned from the other services. The
ledger, the pure computation, is rebuilt from both and kept up to date in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ipshare.auth import Principal, Role
from ipshare.consumer import applied_marks
from ipshare.errors import DomainError, Forbidden, NotFound
from ipshare.eventstore import CommandContext, ServiceApplication
from ipshare.heap import building_long_lived_state
from revenue_share.adapters.inbox import InboxProjection, facts, facts_after
from revenue_share.domain.facts import Payee, PayeeKind, Period
from revenue_share.domain.floor import FloorShortfall
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import CenterPolicy
from revenue_share.domain.policy_versions import Policy, PolicyVersion
from revenue_share.domain.settlement import IssuedStatement, SettlementPeriod, period_key
from revenue_share.domain.statements import Reconciliation, Statement, statement_hash
from revenue_share.ledger_feed import add_fact

T = TypeVar("T")
_FINANCE = (Role.FINANCE, Role.ADMIN)


def is_admin(principal: Principal) -> bool:
    return principal.role is Role.ADMIN


def check_finance(principal: Principal, action: str) -> None:
    if principal.role not in _FINANCE:
        raise Forbidden(f"only finance may {action}", role=principal.role.value)


def visible_to(principal: Principal, payee: Payee) -> bool:
    """Members see their own statements; finance, auditors and admins see every one."""
    if principal.reads_everything:
        return True
    return principal.role is Role.MEMBER and payee.kind is PayeeKind.MEMBER and payee.id == str(principal.member_id)


def visible_policy(principal: Principal, policy: Policy) -> bool:
    if principal.reads_everything or isinstance(policy, CenterPolicy):
        return True
    return principal.role is Role.MEMBER and policy.member_id == str(principal.member_id)


class RevenueShareApplication(ServiceApplication):
    """Periods, closes and issued statements, event-sourced."""

    source: ClassVar[str] = "revenue-share"

    def open_period(self, ctx: CommandContext, period_id: str, start: date, end: date) -> SettlementPeriod:
        check_finance(ctx.principal, "open settlement periods")
        period = SettlementPeriod.open(period_id, start, end)
        Ledger().define_period(Period(period.period_id, start, end))  # the rule's own checks
        self.record(ctx, period)
        return period

    def period(self, period_id: str) -> SettlementPeriod:
        try:
            period: SettlementPeriod = self.repository.get(period_key(period_id))
        except AggregateNotFoundError:
            raise NotFound(f"no period {period_id}", period_id=period_id) from None
        return period

    def periods(self) -> list[SettlementPeriod]:
        opened = self.recorder.select_notifications(0, 1_000_000, topics=[get_topic(SettlementPeriod.Opened)])
        periods: list[SettlementPeriod] = [self.repository.get(uuid.UUID(str(n.originator_id))) for n in opened]
        return sorted(periods, key=lambda p: p.start)

    def record_policy(self, ctx: CommandContext, policy: Policy) -> None:
        """Keep a policy version the ledger's guards accepted (`Payouts.set_policy`)."""
        if not is_admin(ctx.principal):
            raise Forbidden("only an admin may change a distribution policy", role=ctx.principal.role.value)
        self.record(ctx, PolicyVersion.of(policy))

    def policies(self) -> list[Policy]:
        """Every policy version, in the order recorded."""
        return [self.policy(key) for key in self.policy_keys()]

    def policy_keys(self) -> list[uuid.UUID]:
        return self.created_ids(PolicyVersion.Recorded)

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
        check_finance(ctx.principal, "close settlement periods")
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


# Facts read from the inbox and fed to the ledger at a time: a million rows read at once held a gigabyte.
FEED_BATCH = 50_000


class Payouts:
    """The use cases that need the ledger: provisional balances, closes, statements, reconciliation.

    One in-memory ledger per process, fed from the inbox by sequence number and from
    the event store's periods; a lock keeps it to one user at a time, and the
    computation runs off the event loop.
    """

    def __init__(self, app: RevenueShareApplication, engine: AsyncEngine) -> None:
        self.app = app
        self.engine = engine
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
        """Recompute a period's statements with only the facts recorded up to a time (auditors' "as of")."""
        statements = await self._with_ledger(lambda ledger: ledger.statements_known_at(period_id, recorded_by))
        return [s for s in statements if visible_to(ctx.principal, s.payee)]

    async def reconcile(self, ctx: CommandContext, period_id: str) -> tuple[Reconciliation, ...]:
        if not ctx.principal.reads_everything:
            raise Forbidden("reconciliation is for finance and auditors", role=ctx.principal.role.value)
        return await self._with_ledger(lambda ledger: ledger.reconcile(period_id))

    async def set_policy(self, ctx: CommandContext, policy: Policy) -> Policy:
        """An admin records a policy version, checked against the statutory floors of the members it reaches."""

        def decide(ledger: Ledger) -> Policy:
            ledger.check_policy(policy, is_admin(ctx.principal))
            self.app.record_policy(ctx, policy)
            ledger.add_policy(policy)
            return policy

        return await self._with_ledger(decide)

    async def policies(self, ctx: CommandContext) -> list[Policy]:
        """Finance, auditors and admins read every version; a member the center's and its own."""
        found = await asyncio.to_thread(self.app.policies)
        return [p for p in found if visible_policy(ctx.principal, p)]

    async def close(self, ctx: CommandContext, period_id: str) -> str:
        """Close a period on every fact learned so far; returns the hash of its statements."""
        check_finance(ctx.principal, "close settlement periods")
        async with self._lock, self.engine.begin() as conn:
            # No fact may land while the close is computed: each is either in or dated after it.
            await conn.execute(text(f"LOCK TABLE {facts.name} IN EXCLUSIVE MODE"))
            closed_at = await conn.scalar(text("SELECT clock_timestamp()"))
            await self._refresh(conn)
            marks = await _marks(conn)
            try:
                statements = await asyncio.to_thread(self._ledger.close_period, period_id, closed_at)
                check_statutory_floor(self._ledger.floor_shortfalls(period_id))
                return await asyncio.to_thread(self.app.record_close, ctx, period_id, closed_at, statements, marks)
            except BaseException:
                self._reset()  # the ledger may hold a close that was not recorded
                raise

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
        return [self.app.policy(key) for key in fresh]

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
