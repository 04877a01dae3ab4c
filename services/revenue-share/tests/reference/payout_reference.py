"""A reference model of the distribution rules: slow, simple, written from the rules as prose.

It is deliberately naive: every figure is recomputed from the whole list of facts each
time it is asked for. No checkpoints, no indexes, no caching, no aggregation by day
beyond what the rules themselves say. It exists to be compared with the real `Ledger`
(`tests/unit/test_payout_simulation.py`, and the long simulation against the running
services), so it shares no code with the ledger's computation: only the fact types, the
policy types and `ipshare_kernel.money.allocate` (largest remainder, ties to the smaller key).

Interface (stable; the long simulation calls it too):

    history = History(facts=[...], periods=[...], closes=[("2024-Q1", closed_at), ...])
    outcome = settle(history)              # -> list[PeriodOutcome], one per period in order:
                                           #    closed ones as their close computed them, then
                                           #    the first open one with every fact known
    outcome[0].statements                  # payee -> RefStatement(lines, balances)
    outcome[0].reconciliation              # currency -> RefReconciliation (residual always 0)
    comparable(ledger_statements)          # a Ledger's statements in the same form

A fact is one of the domain's fact types (`Member`, `OwnershipSnapshot`, `InventorShares`,
`AssetCost`, `CashReceipt`, `EquityProceeds`) or a policy version (`CenterPolicy`,
`MemberPolicy`); each says when revenue-share learned it (`recorded_at`), which decides
which close knew it. From inbox rows or a replay's facts (kind, body, recorded_at,
position): `revenue_share.ledger_feed.domain_facts(row)`; a policy version from its event:
`revenue_share.domain.policy_versions.policy_of(fields)`. A close that `floor_findings`
names is one the service refuses: leave it out of `closes`.

The rules (docs/architecture.md, "How payouts are computed"):

1. Same-date facts of one kind on one asset apply in the source service's log order
   (`position`): the later one in the log is in force from that date.
2. A license's running income in a currency is cut at every bracket threshold in that
   currency of every policy version known (a threshold names its currency; one recorded
   before thresholds had a currency cuts every currency), in date order; within one day,
   per (license, currency, asset, reimbursement or not) in that order. Each piece lies in
   one bracket of every policy.
3. Each day, a licensee's reimbursements of patent costs on an asset repay that asset's
   unrecovered costs in their currency first, in full and whatever the policy; then, if
   the center policy in force recovers costs, the day's other income on the asset repays
   what is left, up to the policy's cap. Either way the oldest costs dated up to that day
   go first; what is recovered is taken from the pieces in proportion to them (largest
   remainder, in license then bracket order) and paid in full to the members who paid the
   costs. What a reimbursement brings beyond the costs is income like any other.
   A refund (a negative piece: revenue taken back by a credit note) counts in neither; after
   them it takes back what costs were recovered on the asset in that currency, the newest
   cost first, up to the refund, whatever the policy, from the refund's pieces in proportion
   to them; those costs are unrecovered again, and only the rest of the refund reduces the
   payees' income.
4. Every piece's net amount is summed, by date, into its allocation group: asset,
   currency, the ownership snapshot in force on the received date, the inventor snapshot
   in force, the center policy version and its bracket's reward, and each owner's own
   split (version and roles). A group's cumulative net is split once per cut-off date, in
   two stages: first between the owners by share; then each owner's part pays the
   operating fee, the researchers' reward to that owner's inventors, and the rest by the
   owner's own split (whose "inventors" role pays them too). An owner's inventors are its
   affiliated inventors of the asset, all the inventors if none is. With no owner known,
   or none once the asset is assigned out, the fee and the reward (to all the inventors
   by contribution) are taken from the whole, and the rest is held. An unknown owner map
   or inventor list holds the part in suspense (the reward and each owner's "inventors"
   role alike); an asset
   assigned out of the membership holds the owners' part as unallocated, except a sale's
   proceeds, which go to the members who sold.
5. Equity proceeds due to a member are summed per (spin-off, member, currency, member
   policy version, inventor snapshots of the spin-off's assets) and split by the member's
   own split, its "inventors" role paying its inventors of those assets (all their
   inventors if none is its own; held in suspense while none is known).
6. What a payee is entitled to through a date, as known at a time, is the sum of its
   parts of every group and every cost recovery. A close of period k at time t states
       regular lines    = entitled(end_k, t) - entitled(end_k-1, t)
       adjustment lines = entitled(end_k-1, t) - entitled(end_k-1, t_k-1)
   per (payee, currency, step, policy version). Fees and cost recoveries are paid in
   full; a payee's distribution (with what it carried in) is paid when it reaches the
   minimum payout of the center policy in force at the period's end and is not negative,
   else carried forward; suspense and unallocated money is always carried.
7. Reconciliation, per currency: receipts first accounted in the period + carried in =
   fees + cost recoveries + payouts + carried forward.
8. Art. 45, on the outcome: for every state-established university or institute, asset
   and currency, the researchers credited through the member (its reward and its
   "inventors" role, with what is held for them) get at least half of the member's part
   of the net income (income less recovered costs; the fee counts against it), cumulative
   to a close's period end, short by at most four minor units per group for rounding.
   Equity proceeds are no transfer or licensing income. A close that breaks it is refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ipshare_kernel.money import BASIS_POINTS, allocate
from revenue_share.domain.facts import (
    REIMBURSEMENT_KIND,
    SALE_KIND,
    AssetCost,
    CashReceipt,
    EquityProceeds,
    InventorShares,
    Member,
    OwnershipSnapshot,
    Payee,
    PayeeKind,
    Period,
    Step,
)
from revenue_share.domain.policy import CenterPolicy, MemberPolicy
from revenue_share.domain.statements import Statement

CENTER_FEE = Payee(PayeeKind.CENTER, "center", "operating_fee")
SUSPENSE = Payee(PayeeKind.CENTER, "center", "suspense")
UNALLOCATED = Payee(PayeeKind.CENTER, "center", "unallocated")
HELD = (SUSPENSE, UNALLOCATED)
PAID_IN_FULL = (Step.COST_RECOVERY, Step.OPERATING_FEE)
DEFAULT = "default"
DEFAULT_RESEARCHERS_BPS = 5_000
# Rule 8: an owner's part is split with four roundings to the minor unit (share, fee, reward, own
# split); each may cost its researchers less than one minor unit.
FLOOR_ROUNDING_SLACK = 4

Fact = Member | OwnershipSnapshot | InventorShares | AssetCost | CashReceipt | EquityProceeds
Policy = CenterPolicy | MemberPolicy
# (payee, currency, step, policy version, adjustment) -> amount
LineKey = tuple[Payee, str, Step, str, bool]
Entitlements = dict[tuple[Payee, str, Step, str], int]


@dataclass
class History:
    """Everything revenue-share was told, and when finance closed which period."""

    facts: list[Fact | Policy] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)  # consecutive, in order
    closes: list[tuple[str, datetime]] = field(default_factory=list)  # in close order


@dataclass(frozen=True)
class RefBalance:
    carried_in: int
    entitled: int
    paid: int
    carried_out: int


@dataclass(frozen=True)
class RefStatement:
    lines: dict[tuple[str, Step, str, bool], int]  # (currency, step, version, adjustment) -> amount
    balances: dict[str, RefBalance]  # currency -> balance


@dataclass(frozen=True)
class RefReconciliation:
    receipts: int
    carried_in: int
    operating_fees: int
    cost_recoveries: int
    payouts: int
    carried_forward: int
    unallocated: int

    @property
    def residual(self) -> int:
        return (
            self.receipts
            + self.carried_in
            - self.operating_fees
            - self.cost_recoveries
            - self.payouts
            - self.carried_forward
        )


@dataclass(frozen=True)
class PeriodOutcome:
    period_id: str
    closed_at: datetime | None  # None: the first open period, on every fact known
    statements: dict[Payee, RefStatement]
    reconciliation: dict[str, RefReconciliation]


# ---- the facts known at a time ---------------------------------------------------------------


def _known(history: History, at: datetime | None) -> list[Any]:
    return [f for f in history.facts if at is None or f.recorded_at <= at]


def _in_force(snapshots: Iterable[Any], asset_id: str, day: date) -> Any:
    """The snapshot of an asset in force on `day`: the latest dated up to it, the later in the
    source's log among those of one date."""
    found = [s for s in snapshots if s.asset_id == asset_id and s.effective_date <= day]
    return max(found, key=lambda s: (s.effective_date, s.position, s.fact_id), default=None)


def _policy_in_force(policies: Iterable[Any], day: date) -> Any:
    found = [p for p in policies if p.effective_date <= day]
    return max(found, key=lambda p: (p.effective_date, p.recorded_at, p.version), default=None)


def _portion(total: int, bps: int) -> int:
    """`bps` of `total`, as the first of two largest-remainder parts."""
    return allocate(total, {0: bps, 1: BASIS_POINTS - bps})[0]


def _in_currency(brackets: Sequence[Any], currency: str) -> list[Any]:
    """The brackets whose thresholds cut income in `currency`: the first (from 0) always; the others
    when their threshold is in that currency, or names none (recorded before thresholds had one)."""
    return [b for i, b in enumerate(brackets) if i == 0 or b.currency in ("", currency)]


def _bracket(brackets: Sequence[Any], currency: str, position: int) -> Any:
    """The bracket holding a license's cumulative income `position` in `currency`."""
    return [b for b in _in_currency(brackets, currency) if b.from_amount <= position][-1]


class _Facts:
    """The facts known at one time, with the slow look-ups the rules need."""

    def __init__(self, history: History, at: datetime | None) -> None:
        known = _known(history, at)
        self.ownership = [f for f in known if isinstance(f, OwnershipSnapshot)]
        self.inventors = [f for f in known if isinstance(f, InventorShares)]
        self.costs = [f for f in known if isinstance(f, AssetCost)]
        self.receipts = [f for f in known if isinstance(f, CashReceipt)]
        self.equity = [f for f in known if isinstance(f, EquityProceeds)]
        self.centers = [f for f in known if isinstance(f, CenterPolicy)]
        self.member_policies = [f for f in known if isinstance(f, MemberPolicy)]
        self.sales = {r.license_id for r in self.receipts if r.kind == SALE_KIND}
        self.all_brackets = [p.researcher_brackets for p in self.centers]
        self.all_brackets += [p.split_brackets for p in self.member_policies]

    def thresholds(self, currency: str) -> list[int]:
        """Every threshold of every policy version that cuts income in `currency`."""
        cuts = {0}
        for brackets in self.all_brackets:
            cuts.update(b.from_amount for b in _in_currency(brackets, currency))
        return sorted(cuts)

    def center(self, day: date) -> CenterPolicy | None:
        policy: CenterPolicy | None = _policy_in_force(self.centers, day)
        return policy

    def member_policy(self, member_id: str, day: date) -> MemberPolicy | None:
        policy: MemberPolicy | None = _policy_in_force(
            [p for p in self.member_policies if p.member_id == member_id], day
        )
        return policy


# ---- one receipt's pieces, cost recovery, groups --------------------------------------------


@dataclass
class _Piece:
    asset_id: str
    currency: str
    license_id: str
    day: date
    bracket_from: int
    amount: int
    reimburses: bool  # a licensee's reimbursement of costs
    recovered: int = 0


def _pieces_of_day(facts: _Facts, day: date, running: dict[tuple[str, str], int]) -> list[_Piece]:
    """The day's receipts as pieces, each within one bracket of every policy (rule 2)."""
    cells: dict[tuple[str, str, str, bool], int] = defaultdict(int)
    for receipt in facts.receipts:
        if receipt.effective_date == day:
            for asset_id, part in receipt.parts().items():
                cells[(receipt.license_id, receipt.currency, asset_id, receipt.kind == REIMBURSEMENT_KIND)] += part
    pieces = []
    for (license_id, currency, asset_id, reimburses), amount in sorted(cells.items()):
        before = running[(license_id, currency)]
        for start, part in _cut(before, amount, facts.thresholds(currency)):
            pieces.append(_Piece(asset_id, currency, license_id, day, start, part, reimburses))
        running[(license_id, currency)] = before + amount
    return pieces


def _cut(running: int, amount: int, thresholds: list[int]) -> list[tuple[int, int]]:
    """(bracket start, signed amount) pieces of moving a running income by `amount`: the part of
    [low, high] in each bracket [t_i, t_i+1), negative when the income goes down."""
    low, high = sorted((running, running + amount))
    sign = 1 if amount >= 0 else -1
    bounds = [*thresholds[1:], None]
    pieces = []
    for start, end in zip(thresholds, bounds, strict=True):
        top = high if end is None else min(high, end)
        bottom = max(low, start)
        if start == thresholds[0]:
            bottom = low  # the first bracket also holds any income below its start
        if top > bottom:
            pieces.append((start, sign * (top - bottom)))
    if not pieces:  # a zero amount still names the bracket it falls in
        start = max((t for t in thresholds if t <= low), default=thresholds[0])
        pieces.append((start, 0))
    return pieces


def _recover_costs(
    facts: _Facts, day: date, pieces: list[_Piece], recovered: dict[str, int]
) -> list[tuple[str, str, str, str, int]]:
    """Rule 3. Returns (payer, currency, policy version, asset, amount) per cost repaid."""
    center = facts.center(day)
    version = center.version if center else DEFAULT
    paid: list[tuple[str, str, str, str, int]] = []
    by_asset: dict[tuple[str, str], list[_Piece]] = defaultdict(list)
    for piece in pieces:
        by_asset[(piece.asset_id, piece.currency)].append(piece)
    for (asset_id, currency), asset_pieces in sorted(by_asset.items()):
        costs = [c for c in facts.costs if c.asset_id == asset_id and c.currency == currency]
        if not costs:
            continue
        asset_pieces.sort(key=lambda p: p.license_id)  # stable: brackets stay in order
        refunds = [p for p in asset_pieces if p.amount < 0]
        # A licensee's reimbursements first, in full, whatever the policy; then the income, if the
        # policy recovers costs, up to its cap.
        reimbursing = [p for p in asset_pieces if p.reimburses and p.amount >= 0]
        earning = [p for p in asset_pieces if not p.reimburses and p.amount >= 0]
        income = sum(p.amount for p in earning)
        if center is not None and center.cost_cap_bps is not None:
            income_cap = income * center.cost_cap_bps // BASIS_POINTS
        else:
            income_cap = income
        rounds = [(reimbursing, sum(p.amount for p in reimbursing))]
        if center is not None and center.recover_costs:
            rounds.append((earning, income_cap))
        for takers, cap in rounds:
            taken = 0
            for cost in sorted(costs, key=lambda c: (c.effective_date, c.position, c.cost_id)):
                if cost.effective_date > day or cap <= 0:
                    break
                take = min(cost.amount - recovered.get(cost.cost_id, 0), cap)
                if take > 0:
                    recovered[cost.cost_id] = recovered.get(cost.cost_id, 0) + take
                    cap -= take
                    taken += take
                    paid.append((cost.paid_by, currency, version, asset_id, take))
            if taken:
                weights = {i: p.amount for i, p in enumerate(takers) if p.amount > 0}
                for i, part in allocate(taken, weights).items():
                    takers[i].recovered = part
        if refunds:
            paid.extend(_take_back(refunds, costs, recovered, version))
    return paid


def _take_back(
    refunds: list[_Piece], costs: list[AssetCost], recovered: dict[str, int], version: str
) -> list[tuple[str, str, str, str, int]]:
    """Rule 3's refunds: what was recovered goes back, the newest cost first, up to the refund."""
    left = -sum(p.amount for p in refunds)
    returned: list[tuple[str, str, str, str, int]] = []
    for cost in sorted(costs, key=lambda c: (c.effective_date, c.position, c.cost_id), reverse=True):
        take = min(recovered.get(cost.cost_id, 0), left)
        if take > 0:
            recovered[cost.cost_id] -= take
            left -= take
            returned.append((cost.paid_by, cost.currency, version, cost.asset_id, -take))
    total = -sum(r[4] for r in returned)
    if total:
        weights = {i: -p.amount for i, p in enumerate(refunds)}
        for i, part in allocate(total, weights).items():
            refunds[i].recovered = -part
    return returned


@dataclass(frozen=True)
class _Split:
    version: str
    roles: Mapping[str, int]
    inventors: Mapping[str, int] | None  # None: no inventor known yet


def _member_split(facts: _Facts, member_id: str, currency: str, day: date, position: int, inventors: Any) -> _Split:
    policy = facts.member_policy(member_id, day)
    roles = _bracket(policy.split_brackets, currency, position).split if policy else {"member": BASIS_POINTS}
    if inventors is None:
        return _Split(policy.version if policy else DEFAULT, roles, None)
    everyone = dict(inventors.contributions)
    own = {r: bps for r, bps in everyone.items() if inventors.affiliations.get(r) == member_id}
    return _Split(policy.version if policy else DEFAULT, roles, own or everyone)


def _group_of(facts: _Facts, piece: _Piece) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Rule 4: the group a piece's net goes to, and what its split needs."""
    day = piece.day
    center = facts.center(day)
    version = center.version if center else DEFAULT
    fee = center.fee_bps if center else 0
    if center is None:
        researchers = DEFAULT_RESEARCHERS_BPS
    else:
        researchers = _bracket(center.researcher_brackets, piece.currency, piece.bracket_from).researchers_bps
    ownership = _in_force(facts.ownership, piece.asset_id, day)
    inventors = _in_force(facts.inventors, piece.asset_id, day)
    sale = piece.license_id in facts.sales
    if ownership is None:
        owners, owned_by = None, None
    elif ownership.sellers and sale:
        owners, owned_by = dict(ownership.sellers), (ownership.fact_id, "sellers")
    else:
        owners, owned_by = dict(ownership.owners), ownership.fact_id
    splits = {m: _member_split(facts, m, piece.currency, day, piece.bracket_from, inventors)
              for m in sorted(owners or {})}  # fmt: skip
    key = (
        piece.asset_id,
        piece.currency,
        owned_by,
        inventors.fact_id if inventors else None,
        version,
        researchers,
        tuple((m, s.version, tuple(sorted(s.roles.items()))) for m, s in splits.items()),
    )
    spec = {
        "version": version,
        "fee": fee,
        "researchers": researchers,
        "inventors": dict(inventors.contributions) if inventors else None,
        "owners": owners,
        "splits": splits,
    }
    return key, spec


def _to_researchers(amount: int, inventors: Mapping[str, int] | None, step: Step, version: str) -> Entitlements:
    if not inventors:
        return {(SUSPENSE, "", step, version): amount}
    return {(Payee(PayeeKind.RESEARCHER, r, ""), "", step, version): part
            for r, part in allocate(amount, inventors).items()}  # fmt: skip


def _inside_member(amount: int, member_id: str, split: _Split, step: Step, version: str) -> Entitlements:
    parts: Entitlements = defaultdict(int)
    for role, part in allocate(amount, split.roles).items():
        if role == "inventors":
            for key, value in _to_researchers(part, split.inventors, step, version).items():
                parts[key] += value
        else:
            account = "" if role == "member" else role
            parts[(Payee(PayeeKind.MEMBER, member_id, account), "", step, version)] += part
    return parts


def _owner_part(amount: int, member_id: str, spec: dict[str, Any]) -> Entitlements:
    """Rule 4, second stage: an owner's part pays the fee, its researchers' reward (to its
    inventors), then its own split."""
    parts: Entitlements = defaultdict(int)
    version = spec["version"]
    split = spec["splits"][member_id]
    fee = _portion(amount, spec["fee"])
    parts[(CENTER_FEE, "", Step.OPERATING_FEE, version)] += fee
    reward = _portion(amount - fee, spec["researchers"])
    for key, value in _to_researchers(reward, split.inventors, Step.RESEARCHERS_REWARD, version).items():
        parts[key] += value
    inside = _inside_member(amount - fee - reward, member_id, split, Step.OWNER_SHARE, f"{version}+{split.version}")
    for key, value in inside.items():
        parts[key] += value
    return parts


def _split_group(net: int, spec: dict[str, Any]) -> Entitlements:
    """Rule 4: first between the owners by share, then each owner's part on its own; with no owner,
    the fee and the reward (to all the inventors) at the center, the rest held."""
    owners = spec["owners"]
    parts: Entitlements = defaultdict(int)
    if owners:
        for member_id, share in allocate(net, owners).items():
            for key, value in _owner_part(share, member_id, spec).items():
                parts[key] += value
        return parts
    version = spec["version"]
    fee = _portion(net, spec["fee"])
    parts[(CENTER_FEE, "", Step.OPERATING_FEE, version)] += fee
    reward = _portion(net - fee, spec["researchers"])
    for key, value in _to_researchers(reward, spec["inventors"], Step.RESEARCHERS_REWARD, version).items():
        parts[key] += value
    held = SUSPENSE if owners is None else UNALLOCATED
    parts[(held, "", Step.OWNER_SHARE, version)] += net - fee - reward
    return parts


def floor_findings(history: History, period_id: str, at: datetime) -> list[tuple[str, str, str, int, int]]:
    """Rule 8: (member, asset, currency, net income, researchers) wherever a state-established
    member's researchers got less than half its net income, to `period_id`'s end as known at `at`."""
    period = next(p for p in history.periods if p.period_id == period_id)
    members = {m.member_id: m for m in _known(history, at) if isinstance(m, Member) and m.under_statutory_floor}
    nets, specs = _groups(_Facts(history, at), period.end)
    net: dict[tuple[str, str, str], int] = defaultdict(int)
    credited: dict[tuple[str, str, str], int] = defaultdict(int)
    groups: dict[tuple[str, str, str], int] = defaultdict(int)
    for key, amount in nets.items():
        owners = specs[key]["owners"]
        if not owners or not amount:
            continue
        for member_id, share in allocate(amount, owners).items():
            if member_id in members:
                found = (member_id, key[0], key[1])
                net[found] += share
                groups[found] += 1
                for (payee, _, _, _), value in _owner_part(share, member_id, specs[key]).items():
                    if payee.kind is PayeeKind.RESEARCHER or payee == SUSPENSE:
                        credited[found] += value
    return [(*found, net[found], credited[found]) for found in sorted(net)
            if credited[found] < -(-net[found] // 2) - FLOOR_ROUNDING_SLACK * groups[found]]  # fmt: skip


def _equity_group(facts: _Facts, proceeds: EquityProceeds) -> tuple[tuple[Any, ...], _Split]:
    day = proceeds.effective_date
    own: dict[str, int] = defaultdict(int)
    everyone: dict[str, int] = defaultdict(int)
    inventor_ids = []
    for asset_id in proceeds.asset_ids:
        inventors = _in_force(facts.inventors, asset_id, day)
        if inventors is not None:
            inventor_ids.append(inventors.fact_id)
            for researcher, bps in inventors.contributions.items():
                everyone[researcher] += bps
                if inventors.affiliations.get(researcher) == proceeds.member_id:
                    own[researcher] += bps
    policy = facts.member_policy(proceeds.member_id, day)
    roles = policy.split_brackets[0].split if policy else {"member": BASIS_POINTS}
    split = _Split(policy.version if policy else DEFAULT, roles, dict(own or everyone) if inventor_ids else None)
    key = ("equity", proceeds.spin_off_id, proceeds.member_id, proceeds.currency, split.version,
           tuple(sorted(inventor_ids)))  # fmt: skip
    return key, split


# ---- entitlements ----------------------------------------------------------------------------


@dataclass
class _Entitled:
    amounts: dict[tuple[Payee, str, Step, str], int]  # (payee, currency, step, version)
    received: dict[str, int]  # currency -> receipts (and equity proceeds) through the date


def entitled(history: History, through: date, at: datetime | None) -> _Entitled:
    """What every payee is owed through `through` on the facts known at `at` (rule 6)."""
    facts = _Facts(history, at)
    amounts: dict[tuple[Payee, str, Step, str], int] = defaultdict(int)
    received: dict[str, int] = defaultdict(int)
    for receipt in facts.receipts:
        if receipt.effective_date <= through:
            received[receipt.currency] += receipt.amount
    nets, specs = _groups(facts, through, amounts)
    for key, net in nets.items():
        for (payee, _, step, version), amount in _split_group(net, specs[key]).items():
            amounts[(payee, key[1], step, version)] += amount
    equity_nets: dict[tuple[Any, ...], int] = defaultdict(int)
    equity_splits: dict[tuple[Any, ...], _Split] = {}
    for proceeds in facts.equity:
        if proceeds.effective_date <= through:
            received[proceeds.currency] += proceeds.amount
            key, split = _equity_group(facts, proceeds)
            equity_nets[key] += proceeds.amount
            equity_splits[key] = split
    for key, net in equity_nets.items():
        member_id, currency, version = key[2], key[3], key[4]
        for (payee, _, step, _v), amount in _inside_member(net, member_id, equity_splits[key], Step.EQUITY,
                                                           version).items():  # fmt: skip
            amounts[(payee, currency, step, version)] += amount
    return _Entitled({k: v for k, v in amounts.items() if v}, dict(received))


def _groups(
    facts: _Facts, through: date, recoveries: dict[tuple[Payee, str, Step, str], int] | None = None
) -> tuple[dict[tuple[Any, ...], int], dict[tuple[Any, ...], dict[str, Any]]]:
    """Rules 2 to 4: every group's net amount through `through`, and what its split needs; the cost
    recoveries go into `recoveries`."""
    running: dict[tuple[str, str], int] = defaultdict(int)
    recovered: dict[str, int] = {}
    nets: dict[tuple[Any, ...], int] = defaultdict(int)
    specs: dict[tuple[Any, ...], dict[str, Any]] = {}
    for day in sorted({r.effective_date for r in facts.receipts if r.effective_date <= through}):
        pieces = _pieces_of_day(facts, day, running)
        for payer, currency, version, _asset, amount in _recover_costs(facts, day, pieces, recovered):
            if recoveries is not None:
                recoveries[(Payee(PayeeKind.MEMBER, payer, ""), currency, Step.COST_RECOVERY, version)] += amount
        for piece in pieces:
            key, spec = _group_of(facts, piece)
            nets[key] += piece.amount - piece.recovered
            specs[key] = spec
    return nets, specs


# ---- periods, statements, reconciliation -----------------------------------------------------


def settle(history: History) -> list[PeriodOutcome]:
    """Every closed period as its close computed it, then the first open period (rule 6, 7)."""
    outcomes: list[PeriodOutcome] = []
    closed = dict(history.closes)
    carried: dict[tuple[Payee, str], int] = {}
    settled_before: dict[tuple[Payee, str, Step, str], int] = {}
    received_before: dict[str, int] = {}
    previous: tuple[Period, datetime | None] | None = None
    for period in history.periods:
        at = closed.get(period.period_id)
        now = entitled(history, period.end, at)
        before = entitled(history, previous[0].end, at) if previous else _Entitled({}, {})
        lines: dict[LineKey, int] = defaultdict(int)
        for key in now.amounts.keys() | before.amounts.keys():
            payee, currency, step, version = key
            lines[(payee, currency, step, version, False)] += now.amounts.get(key, 0) - before.amounts.get(key, 0)
        if previous:
            for key in before.amounts.keys() | settled_before.keys():
                payee, currency, step, version = key
                delta = before.amounts.get(key, 0) - settled_before.get(key, 0)
                lines[(payee, currency, step, version, True)] += delta
        facts = _Facts(history, at)
        center = facts.center(period.end)
        minimum = dict(center.minimum_payout) if center else {}
        statements, carried_out = _statements({k: v for k, v in lines.items() if v}, carried, minimum)
        new_receipts = {c: now.received.get(c, 0) - received_before.get(c, 0)
                        for c in now.received.keys() | received_before.keys()}  # fmt: skip
        outcomes.append(PeriodOutcome(period.period_id, at, statements, _reconcile(statements, new_receipts)))
        if at is None:
            break  # the first open period: what it would pay with every fact known
        carried, settled_before, received_before = carried_out, now.amounts, now.received
        previous = (period, at)
    return outcomes


def _statements(
    lines: dict[LineKey, int], carried_in: dict[tuple[Payee, str], int], minimum: Mapping[str, int]
) -> tuple[dict[Payee, RefStatement], dict[tuple[Payee, str], int]]:
    payees = {key[0] for key in lines} | {payee for payee, _ in carried_in}
    statements: dict[Payee, RefStatement] = {}
    carried_out: dict[tuple[Payee, str], int] = {}
    for payee in sorted(payees):
        own = {(c, s, v, a): amount for (p, c, s, v, a), amount in lines.items() if p == payee}
        currencies = {c for c, _, _, _ in own} | {c for p, c in carried_in if p == payee}
        balances = {}
        for currency in sorted(currencies):
            in_full = sum(a for (c, s, _, _), a in own.items() if c == currency and s in PAID_IN_FULL)
            distribution = sum(a for (c, s, _, _), a in own.items() if c == currency and s not in PAID_IN_FULL)
            carried = carried_in.get((payee, currency), 0)
            payable = carried + distribution
            held = payee in HELD or payable < 0 or payable < minimum.get(currency, 0)
            balances[currency] = RefBalance(
                carried, in_full + distribution, in_full + (0 if held else payable), payable if held else 0
            )
            if held and payable:
                carried_out[(payee, currency)] = payable
        statements[payee] = RefStatement(own, balances)
    return statements, carried_out


def _reconcile(statements: dict[Payee, RefStatement], receipts: dict[str, int]) -> dict[str, RefReconciliation]:
    currencies = set(receipts) | {c for s in statements.values() for c in s.balances}
    result = {}
    for currency in sorted(currencies):
        fees = costs = carried_in = carried_out = paid = unallocated = 0
        for payee, statement in statements.items():
            for (c, step, _, _), amount in statement.lines.items():
                if c == currency and step == Step.OPERATING_FEE:
                    fees += amount
                elif c == currency and step == Step.COST_RECOVERY:
                    costs += amount
            balance = statement.balances.get(currency)
            if balance is not None:
                carried_in += balance.carried_in
                carried_out += balance.carried_out
                paid += balance.paid
                if payee == UNALLOCATED:
                    unallocated += balance.carried_out
        result[currency] = RefReconciliation(
            receipts.get(currency, 0), carried_in, fees, costs, paid - fees - costs, carried_out, unallocated
        )
    return result


# ---- comparing with the ledger ---------------------------------------------------------------


def comparable(statements: Iterable[Statement]) -> dict[Payee, RefStatement]:
    """A ledger's statements of one period in the reference model's form."""
    found: dict[Payee, RefStatement] = {}
    for statement in statements:
        lines: dict[tuple[str, Step, str, bool], int] = defaultdict(int)
        for line in statement.lines:
            lines[(line.currency, line.step, line.policy_version, line.adjustment)] += line.amount
        balances = {b.currency: RefBalance(b.carried_in, b.entitled, b.paid, b.carried_out)
                    for b in statement.balances}  # fmt: skip
        found[statement.payee] = RefStatement(dict(lines), balances)
    return found
