"""The ledger: holds the facts, closes periods into statements, reconciles, replays.

Idempotent by fact id (the same fact twice is a no-op, another fact under a used id
is a conflict). Statements of closed periods are computed in period order, each
from the facts recorded up to its close, and cached: they never change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import chain
from typing import Any, NamedTuple

from ipshare_kernel.errors import Conflict, DomainError, NotFound
from revenue_share.domain.computation import (
    Checkpoint,
    FactView,
    LineKey,
    Pass,
    PassResult,
    ReceiptsByDay,
    Resume,
    ScopedKey,
    summed,
)
from revenue_share.domain.facts import (
    HELD,
    SALE_KIND,
    UNALLOCATED,
    AssetCost,
    CashReceipt,
    EquityProceeds,
    InventorShares,
    Member,
    OwnershipSnapshot,
    Payee,
    Period,
    Step,
    in_log_order,
)
from revenue_share.domain.floor import FloorShortfall, floor_shortfalls
from revenue_share.domain.policy import CenterPolicy, MemberPolicy, PolicyBook
from revenue_share.domain.statements import Balance, Reconciliation, SourceGroup, Statement, StatementLine

PAID_IN_FULL = (Step.COST_RECOVERY, Step.OPERATING_FEE)  # never held by the minimum payout
# A close keeps the walk's state at its period's end and at each month end of the months
# before it. The next close resumes from the latest of them that no fact learned since is
# dated in or before: late royalty reports then cost a walk from just before the earliest of
# them, not from the first day. A fact dated further back makes the close walk from the first day.
CHECKPOINT_MONTHS = 12
LateFact = tuple[str, str, str, date]  # scope (asset, equity source or "*"), kind, id, business date
# An adjustment's reason names up to this many late receipts; more are counted, with their dates'
# range (a quarter's late royalty reports would make a reason of thousands of ids).
RECEIPTS_NAMED = 3


@dataclass(frozen=True, slots=True)
class _Settled:
    """What a closed period left behind."""

    period: Period
    closed_at: datetime
    carried: dict[tuple[Payee, str], int]  # (payee, currency) -> carried out
    received: dict[str, int]  # currency -> cumulative receipts to the period's end
    statements: tuple[Statement, ...]
    reconciliation: tuple[Reconciliation, ...]
    floor: tuple[FloorShortfall, ...]


class _Kept(NamedTuple):
    taken_at: datetime  # the close whose walk took it: it holds the facts recorded up to then
    checkpoint: Checkpoint


class _Computed(NamedTuple):
    entitled: dict[ScopedKey, int]  # cumulative to the period's end
    checkpoints: list[Checkpoint]
    carried: dict[tuple[Payee, str], int]
    received: dict[str, int]
    statements: tuple[Statement, ...]
    reconciliation: tuple[Reconciliation, ...]
    floor: tuple[FloorShortfall, ...]


class Ledger:
    def __init__(self) -> None:
        self.policies = PolicyBook()
        self._members: dict[str, Member] = {}
        self._ownership: dict[str, OwnershipSnapshot] = {}
        self._inventors: dict[str, InventorShares] = {}
        self._costs: dict[str, AssetCost] = {}
        self._receipts: dict[str, CashReceipt] = {}
        self._equity: dict[str, EquityProceeds] = {}
        self._by_day: ReceiptsByDay = {}
        self._day_latest: dict[date, datetime] = {}  # received day -> latest recorded receipt
        self._sales: dict[str, datetime] = {}  # license (a sale's account) -> its first proceeds recorded
        self._periods: list[Period] = []
        self._closes: dict[str, datetime] = {}
        self._settled: list[_Settled] = []
        # Cumulative to the last settled period's end, as its close knew them (only the next
        # close needs them: a history's worth of entitlements is not kept per close).
        self._last_entitled: dict[ScopedKey, int] = {}
        self._checkpoints: dict[date, _Kept] = {}  # day -> the walk's state at its end

    # ---- facts ---------------------------------------------------------------------------------

    def add_member(self, member: Member) -> bool:
        return self._keep(self._members, member.member_id, member)

    def add_ownership(self, snapshot: OwnershipSnapshot) -> bool:
        return self._keep(self._ownership, snapshot.fact_id, snapshot)

    def add_inventors(self, snapshot: InventorShares) -> bool:
        return self._keep(self._inventors, snapshot.fact_id, snapshot)

    def add_cost(self, cost: AssetCost) -> bool:
        return self._keep(self._costs, cost.cost_id, cost)

    def add_equity_proceeds(self, proceeds: EquityProceeds) -> bool:
        return self._keep(self._equity, proceeds.fact_id, proceeds)

    def add_policy(self, policy: CenterPolicy | MemberPolicy) -> bool:
        """Record a policy version as it was set (replay); guards live in `PolicyBook.set_*`."""
        if policy.version not in {p.version for p in self.policies.versions()}:
            self._check_not_settled(policy.recorded_at, policy.version)
        return self.policies.record(policy)

    def check_policy(self, policy: CenterPolicy | MemberPolicy, by_admin: bool) -> None:
        """The guards for an admin setting a version: statutory floors of every member it reaches."""
        trial = PolicyBook(self.policies.versions())
        if isinstance(policy, CenterPolicy):
            trial.set_center_policy(policy, self._members.values(), by_admin)
            return
        member = self._members.get(policy.member_id)
        if member is None:
            raise NotFound(f"revenue-share has not learned of member {policy.member_id}", member_id=policy.member_id)
        trial.set_member_policy(policy, member, by_admin)

    def add_receipt(self, receipt: CashReceipt) -> bool:
        known = self._receipts.get(receipt.receipt_id)
        if known is not None or (self._settled and receipt.recorded_at <= self._settled[-1].closed_at):
            return self._keep(self._receipts, receipt.receipt_id, receipt)  # a repeat, a conflict, or too late
        self._receipts[receipt.receipt_id] = receipt
        if receipt.kind == SALE_KIND:
            self._note_sale(receipt)
        day = receipt.effective_date
        if self._day_latest.get(day, receipt.recorded_at) <= receipt.recorded_at:
            self._day_latest[day] = receipt.recorded_at
        received = self._by_day.get(day)
        if received is None:
            self._by_day[day] = [receipt]
        else:
            received.append(receipt)  # the per-receipt hot path
        return True

    def _note_sale(self, receipt: CashReceipt) -> None:
        """The license is a sale's account from its first proceeds recorded (see `OwnershipSnapshot.payees`)."""
        first = self._sales.get(receipt.license_id)
        if first is None or receipt.recorded_at < first:
            self._sales[receipt.license_id] = receipt.recorded_at

    def add_receipts(self, receipts: Iterable[CashReceipt]) -> int:
        return sum(self.add_receipt(r) for r in receipts)

    def _keep(self, facts: dict[str, Any], fact_id: str, fact: Any) -> bool:
        known = facts.get(fact_id)
        if known is not None:
            if known != fact:
                raise Conflict(f"fact {fact_id!r} was already recorded with other content", fact_id=fact_id)
            return False
        self._check_not_settled(fact.recorded_at, fact_id)
        facts[fact_id] = fact
        return True

    def _check_not_settled(self, recorded_at: datetime, fact_id: str) -> None:
        if self._settled and recorded_at <= self._settled[-1].closed_at:
            last = self._settled[-1]
            raise Conflict(
                f"fact {fact_id!r} is recorded at {recorded_at.isoformat()}, before period "
                f"{last.period.period_id} closed; closed statements never change: record it when it arrived",
                fact_id=fact_id,
                period_id=last.period.period_id,
            )

    # ---- periods -------------------------------------------------------------------------------

    def define_period(self, period: Period) -> bool:
        known = next((p for p in self._periods if p.period_id == period.period_id), None)
        if known is not None:
            if known != period:
                raise Conflict(f"period {period.period_id} already exists with other dates")
            return False
        if self._periods and period.start != date.fromordinal(self._periods[-1].end.toordinal() + 1):
            raise DomainError(
                f"period {period.period_id} must start the day after {self._periods[-1].period_id} ends",
                period_id=period.period_id,
            )
        self._periods.append(period)
        return True

    def period(self, period_id: str) -> Period:
        for period in self._periods:
            if period.period_id == period_id:
                return period
        raise NotFound(f"no period {period_id}", period_id=period_id)

    def close_period(self, period_id: str, closed_at: datetime) -> tuple[Statement, ...]:
        """Finance closes a period: immutable statements from the facts recorded up to `closed_at`."""
        period = self.period(period_id)
        if period_id in self._closes:
            if self._closes[period_id] != closed_at:
                raise Conflict(f"period {period_id} is already closed", period_id=period_id)
            return self.statements(period_id)
        index = self._periods.index(period)
        if index != len(self._closes):
            raise Conflict(f"close {self._periods[len(self._closes)].period_id} before {period_id}")
        if self._closes and closed_at < max(self._closes.values()):
            raise Conflict("a period closes after the one before it", period_id=period_id)
        self._closes[period_id] = closed_at
        return self.statements(period_id)

    def statements(self, period_id: str) -> tuple[Statement, ...]:
        """The statements of a closed period (computed once, in period order)."""
        if period_id not in self._closes:
            raise Conflict(f"period {period_id} is open: see provisional()", period_id=period_id)
        self._settle_through(self._periods.index(self.period(period_id)))
        return next(s.statements for s in self._settled if s.period.period_id == period_id)

    def all_statements(self) -> list[Statement]:
        closed = [p.period_id for p in self._periods if p.period_id in self._closes]
        return [s for period_id in closed for s in self.statements(period_id)]

    def reconcile(self, period_id: str) -> tuple[Reconciliation, ...]:
        if period_id in self._closes:
            self.statements(period_id)
            return next(s.reconciliation for s in self._settled if s.period.period_id == period_id)
        period = self.period(period_id)
        if self._periods.index(period) != len(self._closes):  # it would count the earlier open ones' cash
            raise Conflict(f"only the first open period has a provisional reconciliation, not {period_id}")
        self._settle_through(len(self._closes) - 1)
        return self._compute(period, None).reconciliation

    def floor_shortfalls(self, period_id: str) -> list[FloorShortfall]:
        """Where a closed period's outcome leaves a state-established member's researchers under the
        Art. 45 floor (`floor.floor_shortfalls`). A new close with any must not be recorded."""
        self.statements(period_id)
        return list(next(s.floor for s in self._settled if s.period.period_id == period_id))

    def provisional(self, period_id: str) -> tuple[Statement, ...]:
        """What the first open period would pay if it closed now, with every fact known."""
        period = self.period(period_id)
        if period_id in self._closes:
            raise Conflict(f"period {period_id} is closed: see statements()", period_id=period_id)
        if self._periods.index(period) != len(self._closes):
            raise Conflict(f"only the first open period has provisional balances, not {period_id}")
        self._settle_through(len(self._closes) - 1)
        return self._compute(period, None).statements

    def statements_known_at(self, period_id: str, recorded_by: datetime) -> tuple[Statement, ...]:
        """The period's statements on the facts recorded up to `recorded_by`: as issued if it had
        closed by then, else what it would have paid had it closed then."""
        self.period(period_id)  # an unknown one is not found
        closed_at = self._closes.get(period_id)
        if closed_at is not None and closed_at <= recorded_by:
            # Its close saw exactly the facts recorded up to then, and so would the past ledger:
            # no need to rebuild it (at a million facts, a copy of them all and every close).
            return self.statements(period_id)
        past = self.as_of(recorded_by)
        return past.statements(period_id) if period_id in past._closes else past.provisional(period_id)

    def as_of(self, recorded_by: datetime) -> Ledger:
        """A ledger holding only the facts (and closes) recorded up to `recorded_by`."""
        ledger = Ledger()
        for member in self._members.values():
            if member.recorded_at <= recorded_by:
                ledger.add_member(member)
        for policy in self.policies.versions():
            if policy.recorded_at <= recorded_by:
                ledger.add_policy(policy)
        facts: list[Iterable[Any]] = [self._ownership.values(), self._inventors.values(), self._costs.values()]
        adders: list[Callable[[Any], bool]] = [ledger.add_ownership, ledger.add_inventors, ledger.add_cost]
        for values, add in zip(facts, adders, strict=True):
            for fact in values:
                if fact.recorded_at <= recorded_by:
                    add(fact)
        for proceeds in self._equity.values():
            if proceeds.recorded_at <= recorded_by:
                ledger.add_equity_proceeds(proceeds)
        ledger.add_receipts(r for r in self._receipts.values() if r.recorded_at <= recorded_by)
        for period in self._periods:
            ledger.define_period(period)
        for period in self._periods:
            closed_at = self._closes.get(period.period_id)
            if closed_at is not None and closed_at <= recorded_by:
                ledger._closes[period.period_id] = closed_at
        return ledger

    # ---- computing -----------------------------------------------------------------------------

    def _settle_through(self, index: int) -> None:
        while len(self._settled) <= index:
            period = self._periods[len(self._settled)]
            closed_at = self._closes[period.period_id]
            computed = self._compute(period, closed_at)
            self._settled.append(
                _Settled(period, closed_at, computed.carried, computed.received, computed.statements,
                         computed.reconciliation, computed.floor)
            )  # fmt: skip
            self._last_entitled = computed.entitled
            self._keep_checkpoints(period, closed_at, computed.checkpoints)

    def _keep_checkpoints(self, period: Period, closed_at: datetime, taken: list[Checkpoint]) -> None:
        """A close's checkpoints replace those of the same days (it knew more); days out of the window go."""
        window = _checkpoint_days(period.end)
        for checkpoint in taken:
            self._checkpoints[checkpoint.day] = _Kept(closed_at, checkpoint)
        for day in [d for d in self._checkpoints if d not in window]:
            del self._checkpoints[day]

    def _view(self, recorded_by: datetime | None) -> FactView:
        def known(fact: Any) -> bool:
            return recorded_by is None or fact.recorded_at <= recorded_by

        ownership: dict[str, list[OwnershipSnapshot]] = defaultdict(list)
        for o in sorted(filter(known, self._ownership.values()), key=in_log_order):
            ownership[o.asset_id].append(o)
        inventors: dict[str, list[InventorShares]] = defaultdict(list)
        for i in sorted(filter(known, self._inventors.values()), key=in_log_order):
            inventors[i.asset_id].append(i)
        costs: dict[tuple[str, str], list[AssetCost]] = defaultdict(list)
        for c in sorted(filter(known, self._costs.values()), key=in_log_order):
            costs[(c.asset_id, c.currency)].append(c)
        policies = self.policies if recorded_by is None else self.policies.as_of(recorded_by)
        equity = sorted(filter(known, self._equity.values()), key=lambda e: e.fact_id)
        sales = frozenset(k for k, t in self._sales.items() if recorded_by is None or t <= recorded_by)
        return FactView(
            recorded_by, policies, self._by_day, self._day_latest, ownership, inventors, costs, equity, sales
        )

    def _compute(self, period: Period, closed_at: datetime | None) -> _Computed:
        previous = self._settled[-1] if self._settled else None
        cutoffs = [previous.period.end, period.end] if previous else [period.end]
        view = self._view(closed_at)
        late = self._late_facts(previous.closed_at, closed_at, previous.period.end) if previous else []
        keep_at = _checkpoint_days(period.end) if closed_at is not None else ()  # provisional: nothing kept
        result = Pass(view, cutoffs, self._resume_point(view, cutoffs[0]), keep_at).run()
        now = result.entitled[-1]
        before = result.entitled[0] if previous else {}
        settled_before = self._last_entitled
        received = summed(result.receipts)
        lines = _regular_lines(now, before, result)
        lines += _adjustment_lines(before, settled_before, previous, late)
        carried_in = previous.carried if previous else {}
        minimum = view.policies.center_at(period.end).minimum_payout
        statements, carried = _statements(period.period_id, closed_at, lines, carried_in, minimum)
        received_before = previous.received if previous else {}
        new_receipts = {c: received.get(c, 0) - received_before.get(c, 0) for c in received | received_before}
        reconciliation = _reconcile(period.period_id, statements, new_receipts)
        floor = self._floor(result, closed_at) if closed_at is not None else ()
        return _Computed(dict(now), result.checkpoints, carried, received, statements, reconciliation, floor)

    def _floor(self, result: PassResult, closed_at: datetime) -> tuple[FloorShortfall, ...]:
        """The Art. 45 shortfalls of the groups' cumulative net amounts to the period's end."""
        members = {m.member_id: m for m in self._members.values()
                   if m.under_statutory_floor and m.recorded_at <= closed_at}  # fmt: skip
        if not members:
            return ()
        groups = ((g.scope, g.currency, g.spec, sum(g.net)) for g in result.groups if g.spec is not None)
        return tuple(floor_shortfalls(groups, members))

    def _resume_point(self, view: FactView, through: date) -> Resume | None:
        """The latest kept checkpoint up to `through` that every fact learned since its close and
        dated in or before its day can be added to: a receipt that splits alone. The walk resumes
        there, with those receipts added, instead of at the first day."""
        learned: dict[datetime, tuple[date, list[CashReceipt]]] = {}  # per close that took checkpoints
        days = sorted((d for d in self._checkpoints if d <= through), reverse=True)
        for day in days:
            taken_at, checkpoint = self._checkpoints[day]
            if taken_at not in learned:
                learned[taken_at] = self._learned_since(taken_at, view, days[0])
            walk_from, alone = learned[taken_at]
            if day < walk_from:
                return Resume(checkpoint, [r for r in alone if r.effective_date <= day])
        return None

    def _learned_since(self, after: datetime, view: FactView, through: date) -> tuple[date, list[CashReceipt]]:
        """The earliest date of a fact learned after `after` that must be walked (`date.max`: none
        up to `through`), and the receipts learned meanwhile and dated before it that split alone."""
        upto = view.recorded_by
        if any(_learned_between(first, after, upto) for first in self._sales.values()):
            return date.min, []  # a new sale's account: its receipts of any date are a sale's now (rare)
        walk_from = min((fact[3] for fact in self._others_learned(after, upto, date.max)), default=date.max)
        alone: list[CashReceipt] = []
        for receipt in self._receipts_since(after, upto, min(walk_from, through)):  # in date order
            if not view.splits_alone(receipt):
                return receipt.effective_date, alone
            alone.append(receipt)
        return walk_from, alone

    def _late_facts(self, after: datetime, upto: datetime | None, through: date) -> list[LateFact]:
        """The facts learned after `after` (up to `upto`) that are dated up to `through`, in date order."""
        learned = chain(self._receipts_learned(after, upto, through), self._others_learned(after, upto, through))
        return sorted(set(learned), key=lambda f: (f[3], f[1], f[2], f[0]))

    def _receipts_learned(self, after: datetime, upto: datetime | None, through: date) -> Iterator[LateFact]:
        for receipt in self._receipts_since(after, upto, through):
            day = receipt.effective_date
            yield from ((asset_id, "receipt", receipt.receipt_id, day) for asset_id in receipt.asset_ids)

    def _receipts_since(self, after: datetime, upto: datetime | None, through: date) -> Iterator[CashReceipt]:
        """The receipts learned after `after` (up to `upto`) and dated up to `through`, in date order."""
        for day in sorted(d for d, latest in self._day_latest.items() if d <= through and latest > after):
            for receipt in self._by_day[day]:
                if _learned_between(receipt.recorded_at, after, upto):
                    yield receipt

    def _others_learned(self, after: datetime, upto: datetime | None, through: date) -> Iterator[LateFact]:
        def late(recorded_at: datetime, day: date) -> bool:
            return _learned_between(recorded_at, after, upto) and day <= through

        for o in self._ownership.values():
            if late(o.recorded_at, o.effective_date):
                yield o.asset_id, "ownership", o.fact_id, o.effective_date
        for i in self._inventors.values():
            if late(i.recorded_at, i.effective_date):
                yield i.asset_id, "inventors", i.fact_id, i.effective_date
        for c in self._costs.values():
            if late(c.recorded_at, c.effective_date):
                yield c.asset_id, "cost", c.cost_id, c.effective_date
        for e in self._equity.values():
            if late(e.recorded_at, e.effective_date):
                yield f"equity:{e.spin_off_id}", "equity", e.fact_id, e.effective_date
        for p in self.policies.versions():
            if late(p.recorded_at, p.effective_date):
                yield "*", "policy", p.version, p.effective_date


def _adjustment_lines(
    now: dict[ScopedKey, int],
    settled: dict[ScopedKey, int],
    previous: _Settled | None,
    late: list[LateFact],
) -> list[StatementLine]:
    if previous is None:
        return []
    changes: dict[LineKey, int] = defaultdict(int)
    scopes: dict[LineKey, set[str]] = defaultdict(set)
    for scoped in now.keys() | settled.keys():
        delta = now.get(scoped, 0) - settled.get(scoped, 0)
        if delta:
            payee, currency, step, version, scope = scoped
            changes[(payee, currency, step, version)] += delta
            scopes[(payee, currency, step, version)].add(scope)
    by_scope: dict[str, list[int]] = defaultdict(list)  # scope -> its facts' places in `late`
    for place, fact in enumerate(late):
        by_scope[fact[0]].append(place)
    lines = []
    for key, delta in sorted(changes.items()):
        if not delta:
            continue
        places = [p for scope in scopes[key] | {"*"} for p in by_scope.get(scope, ())]
        relevant = [late[p] for p in sorted(places)]  # in the order of `late`, as the reason lists them
        reason = f"recomputed after {previous.period.period_id} closed, with late or backdated facts: " + (
            _named(relevant) or "none"
        )
        receipts = [f[2] for f in relevant if f[1] == "receipt"]
        others = [f[2] for f in relevant if f[1] != "receipt"]
        source = SourceGroup.of("adjustment", receipts, others)
        payee, currency, step, version = key
        lines.append(StatementLine(payee, currency, step, delta, version, True, reason, (source,)))
    return lines


def _learned_between(recorded_at: datetime, after: datetime, upto: datetime | None) -> bool:
    return after < recorded_at and (upto is None or recorded_at <= upto)


def _named(facts: list[LateFact]) -> str:
    """Each fact by kind, id and date, in date order; past `RECEIPTS_NAMED` receipts, the receipts
    as a count and a date range after the other facts (explain lists their ids)."""
    receipts = [f for f in facts if f[1] == "receipt"]
    count = len({f[2] for f in receipts})  # a receipt of two of the line's assets is here twice
    if count <= RECEIPTS_NAMED:
        return "; ".join(map(_fact_named, facts))
    first, last = receipts[0][3].isoformat(), receipts[-1][3].isoformat()
    dated = f"dated {first}" if first == last else f"dated {first} to {last}"
    named = [_fact_named(f) for f in facts if f[1] != "receipt"]
    return "; ".join([*named, f"{count:,} receipts {dated}"])


def _fact_named(fact: LateFact) -> str:
    _, kind, fact_id, day = fact
    return f"{kind} {fact_id} ({day.isoformat()})"


def _checkpoint_days(end: date) -> set[date]:
    """Where a close ending on `end` keeps the walk's state: `end` and the month ends of the
    `CHECKPOINT_MONTHS` months before it."""
    if not CHECKPOINT_MONTHS:
        return set()
    days, first = {end}, end.replace(day=1)
    for _ in range(CHECKPOINT_MONTHS):
        month_end = first - timedelta(days=1)
        days.add(month_end)
        first = month_end.replace(day=1)
    return days


def _regular_lines(now: dict[ScopedKey, int], before: dict[ScopedKey, int], result: PassResult) -> list[StatementLine]:
    amounts: dict[LineKey, int] = defaultdict(int)
    for scoped in now.keys() | before.keys():
        payee, currency, step, version, _ = scoped
        amounts[(payee, currency, step, version)] += now.get(scoped, 0) - before.get(scoped, 0)
    lines = []
    for key, amount in sorted(amounts.items()):
        if amount:
            payee, currency, step, version = key
            sources = tuple(sorted(set(result.sources.get(key, ())), key=lambda g: (g.scope, g.digest)))
            lines.append(StatementLine(payee, currency, step, amount, version, False, "", sources))
    return lines


def _statements(
    period_id: str,
    closed_at: datetime | None,
    lines: list[StatementLine],
    carried_in: dict[tuple[Payee, str], int],
    minimum: Mapping[str, int],
) -> tuple[tuple[Statement, ...], dict[tuple[Payee, str], int]]:
    by_payee: dict[Payee, list[StatementLine]] = defaultdict(list)
    for line in lines:
        by_payee[line.payee].append(line)
    carried_currencies: dict[Payee, set[str]] = defaultdict(set)
    for payee, currency in carried_in:
        by_payee.setdefault(payee, [])
        carried_currencies[payee].add(currency)
    statements = []
    carried: dict[tuple[Payee, str], int] = {}
    for payee in sorted(by_payee):
        payee_lines = by_payee[payee]
        currencies = sorted({line.currency for line in payee_lines} | carried_currencies.get(payee, set()))
        balances = []
        for currency in currencies:
            balance = _balance(payee, currency, payee_lines, carried_in.get((payee, currency), 0), minimum)
            balances.append(balance)
            if balance.carried_out:
                carried[(payee, currency)] = balance.carried_out
        statements.append(Statement(period_id, payee, closed_at, tuple(payee_lines), tuple(balances)))
    return tuple(statements), carried


def _balance(
    payee: Payee, currency: str, lines: list[StatementLine], carried_in: int, minimum: Mapping[str, int]
) -> Balance:
    """Fees and cost recoveries are paid in full; distributions wait for the minimum payout."""
    in_full = sum(line.amount for line in lines if line.currency == currency and line.step in PAID_IN_FULL)
    distribution = sum(line.amount for line in lines if line.currency == currency and line.step not in PAID_IN_FULL)
    payable = carried_in + distribution
    held = payee in HELD or payable < 0 or payable < minimum.get(currency, 0)
    paid = in_full + (0 if held else payable)
    return Balance(currency, carried_in, in_full + distribution, paid, payable if held else 0)


def _reconcile(
    period_id: str, statements: tuple[Statement, ...], receipts: dict[str, int]
) -> tuple[Reconciliation, ...]:
    currencies = sorted(set(receipts) | {b.currency for s in statements for b in s.balances})
    result = []
    for currency in currencies:
        lines = [line for s in statements for line in s.lines if line.currency == currency]
        balances = [b for s in statements for b in s.balances if b.currency == currency]
        fees = sum(line.amount for line in lines if line.step == Step.OPERATING_FEE)
        costs = sum(line.amount for line in lines if line.step == Step.COST_RECOVERY)
        carried_in = sum(b.carried_in for b in balances)
        carried_out = sum(b.carried_out for b in balances)
        payouts = sum(b.paid for b in balances) - fees - costs
        received = receipts.get(currency, 0)
        residual = received + carried_in - fees - costs - payouts - carried_out
        unallocated = sum(
            b.carried_out for s in statements if s.payee == UNALLOCATED for b in s.balances if b.currency == currency
        )
        result.append(
            Reconciliation(
                period_id, currency, received, carried_in, fees, costs, payouts, carried_out, residual, unallocated
            )
        )
    return tuple(result)
