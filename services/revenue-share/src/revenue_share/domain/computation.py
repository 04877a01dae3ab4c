"""One pass of the distribution: facts as of a time, entitlements at a few cut-off dates.

The pass aggregates before it allocates. It walks the days in date order once and
sums each day's receipts per cell (license, currency, asset) where their order
matters, else per asset; it cuts each license's running income at the bracket
thresholds, recovers costs per asset and day, then sums the net amounts into
allocation groups: (asset, currency, ownership snapshot, inventor snapshot, policy
versions and brackets). Each group is split once per cut-off, on its *cumulative*
net amount, so what a payee is owed to date is a sum of exact integer splits.

A pass may start from a checkpoint (the walk's state at the end of a day, kept by an
earlier pass) instead of the first day, with the receipts learned since that split
alone added to it; it keeps checkpoints at the days asked for.
"""

from __future__ import annotations

import bisect
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple, TypeVar

from ipshare_kernel.money import BASIS_POINTS
from revenue_share.domain.facts import (
    REIMBURSEMENT_KIND,
    AssetCost,
    CashReceipt,
    EquityProceeds,
    InventorShares,
    OwnershipSnapshot,
    Payee,
    PayeeKind,
    Step,
)
from revenue_share.domain.policy import DEFAULT_SPLIT, DEFAULT_VERSION, PolicyBook, bracket_at
from revenue_share.domain.statements import SourceGroup
from revenue_share.domain.waterfall import (
    GroupSpec,
    MemberSplit,
    Part,
    split_by_weight,
    split_inside_member,
    split_net,
)

LineKey = tuple[Payee, str, Step, str]  # payee, currency, step, policy version
ScopedKey = tuple[Payee, str, Step, str, str]  # ... and the scope (asset or equity source)


class Cell:
    """Income summed while the walk goes through a day: an amount and the receipts behind it."""

    __slots__ = ("amount", "receipt_ids")

    def __init__(self) -> None:
        self.amount = 0
        self.receipt_ids: list[str] = []

    def add(self, amount: int, receipt_id: str) -> None:
        self.amount += amount
        self.receipt_ids.append(receipt_id)


# received day -> the receipts received that day, in the order they were recorded
ReceiptsByDay = dict[date, list[CashReceipt]]


@dataclass(slots=True)
class FactView:
    """The facts recorded up to `recorded_by` (None: all), sorted for date look-ups."""

    recorded_by: datetime | None
    policies: PolicyBook
    receipts: ReceiptsByDay
    latest: Mapping[date, datetime]  # received day -> its latest receipt's recorded_at
    ownership: dict[str, list[OwnershipSnapshot]]
    inventors: dict[str, list[InventorShares]]
    costs: dict[tuple[str, str], list[AssetCost]]
    equity: list[EquityProceeds]
    sales: frozenset[str] = frozenset()  # licenses whose receipts are a sale's proceeds (`facts.SALE_KIND`)
    flat: bool = field(init=False)  # no policy has tiers: no license's running income is cut
    _thresholds: dict[str, tuple[int, ...]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.flat = not self.policies.tiered()

    def thresholds_in(self, currency: str) -> tuple[int, ...]:
        """Every policy's bracket thresholds in `currency` (`PolicyBook.thresholds`), worked out once."""
        found = self._thresholds.get(currency)
        if found is None:
            found = self._thresholds[currency] = self.policies.thresholds(currency)
        return found

    def splits_alone(self, receipt: CashReceipt) -> bool:
        """Whether a receipt is split the same whatever receipts come before it: no tiers cut its
        license's running income, and no costs of its assets are recovered from it."""
        return self.flat and all((asset_id, receipt.currency) not in self.costs for asset_id in receipt.asset_ids)

    def receipts_on(self, day: date) -> list[CashReceipt]:
        """The receipts received on `day` and recorded up to `recorded_by`."""
        found = self.receipts.get(day, [])
        if self.recorded_by is None or self.latest[day] <= self.recorded_by:
            return found
        return [r for r in found if r.recorded_at <= self.recorded_by]

    def owners_at(self, asset_id: str, day: date) -> OwnershipSnapshot | None:
        return _snapshot_at(self.ownership.get(asset_id, []), day)

    def inventors_at(self, asset_id: str, day: date) -> InventorShares | None:
        return _snapshot_at(self.inventors.get(asset_id, []), day)


_S = TypeVar("_S", OwnershipSnapshot, InventorShares)


def _snapshot_at(snapshots: list[_S], day: date) -> _S | None:
    index = bisect.bisect_right([s.effective_date for s in snapshots], day)
    return snapshots[index - 1] if index else None


@dataclass(slots=True)
class _Group:
    key: tuple[object, ...]
    scope: str
    currency: str
    spec: GroupSpec | None  # None: an equity group (member split only)
    member_id: str = ""
    member_split: MemberSplit | None = None
    net: list[int] = field(default_factory=list)  # per cut-off slot
    receipt_ids: list[str] = field(default_factory=list)  # in the last slot
    fact_ids: tuple[str, ...] = ()
    split: tuple[int, list[Part]] | None = None  # the last split made: (cumulative net, parts)

    def with_net(self, net: list[int]) -> _Group:
        """The same group with other slots and no receipts yet (a checkpoint's copy, or one resumed from it)."""
        return _Group(self.key, self.scope, self.currency, self.spec, self.member_id, self.member_split, net, [],
                      self.fact_ids, self.split)  # fmt: skip


@dataclass(slots=True)
class Checkpoint:
    """The state of the walk at the end of a day, to resume from when nothing earlier changed."""

    day: date
    running: dict[tuple[str, str], int]  # (license, currency) -> cumulative income
    recovered_costs: dict[str, int]  # cost id -> recovered so far
    recovery_entitled: dict[ScopedKey, int]  # cumulative cost recovery lines
    groups: dict[tuple[object, ...], _Group]  # net = [cumulative net]
    receipts: dict[str, int]  # currency -> cumulative receipts


class Resume(NamedTuple):
    """Where a pass starts: a checkpoint, and the receipts learned since it was taken and dated up
    to its day, each of which splits alone (`FactView.splits_alone`): they are added to it, not walked."""

    checkpoint: Checkpoint
    late: list[CashReceipt]


@dataclass(slots=True)
class PassResult:
    """Entitlements at each cut-off, the sources of the last slot, raw receipt totals, and the
    walk's state at the days asked for and at the last cut-off (in day order)."""

    entitled: list[dict[ScopedKey, int]]
    sources: dict[LineKey, list[SourceGroup]]
    receipts: list[dict[str, int]]  # currency -> total received in each slot
    checkpoints: list[Checkpoint]
    groups: list[_Group] = field(default_factory=list)  # every group, each with its net per slot


SpecKey = tuple[str, str, int, int, bool]  # asset, currency, segment of constant facts, bracket start, sale


class Pass:
    """Walks the days up to the last cut-off (or from a checkpoint) and splits each group once per
    cut-off; keeps the walk's state at the end of each day of `keep_at` it walks past, and of the last cut-off."""

    def __init__(
        self,
        view: FactView,
        cutoffs: list[date],
        resume: Resume | None = None,
        keep_at: Iterable[date] = (),
    ) -> None:
        self.view = view
        self.cutoffs = cutoffs
        self.last = len(cutoffs) - 1
        self.result = PassResult(
            entitled=[defaultdict(int) for _ in cutoffs],
            sources=defaultdict(list),
            receipts=[{} for _ in cutoffs],
            checkpoints=[],
        )
        self.running: dict[tuple[str, str], int] = defaultdict(int)
        self.groups: dict[tuple[object, ...], _Group] = {}
        self.recoveries: dict[tuple[str, str], _CostRecovery] = {}
        self.recovered_costs: dict[str, int] = {}
        self._recovered: list[dict[ScopedKey, int]] = [defaultdict(int) for _ in cutoffs]
        self._group_memo: dict[SpecKey, _Group] = {}
        self._breaks: dict[str, list[date]] = {}
        self._policy_dates = sorted({p.effective_date for p in view.policies.versions()})
        self.after: date | None = None
        if resume is not None:
            self._resume(resume.checkpoint)
            for receipt in resume.late:
                self._add_alone(receipt)
        self._keep_at = deque(sorted(d for d in set(keep_at) if self._walks(d) and d < cutoffs[-1]))

    def _resume(self, checkpoint: Checkpoint) -> None:
        if checkpoint.day > self.cutoffs[0]:
            raise ValueError("a pass resumes at or before its first cut-off")
        self.after = checkpoint.day
        self.running.update(checkpoint.running)
        self.recovered_costs = dict(checkpoint.recovered_costs)
        self._recovered[0].update(checkpoint.recovery_entitled)
        self.result.receipts[0].update(checkpoint.receipts)
        for key, group in checkpoint.groups.items():
            self.groups[key] = group.with_net([group.net[0]] + [0] * self.last)

    def _add_alone(self, receipt: CashReceipt) -> None:
        """A receipt dated up to the checkpoint, into its groups as `_day` would have summed it there."""
        license_id, currency = receipt.license_id, receipt.currency
        totals = self.result.receipts[0]
        totals[currency] = totals.get(currency, 0) + receipt.amount
        self.running[(license_id, currency)] += receipt.amount
        sale = license_id in self.view.sales
        for asset_id, amount in receipt.parts().items():
            self._group(asset_id, currency, receipt.effective_date, 0, sale).net[0] += amount

    def run(self) -> PassResult:
        equity: dict[date, list[EquityProceeds]] = defaultdict(list)
        for proceeds in self.view.equity:
            if self._walks(proceeds.effective_date):
                equity[proceeds.effective_date].append(proceeds)
        for day in sorted({d for d in self.view.receipts if self._walks(d)}.union(equity)):
            self._keep_before(day)
            if day in self.view.receipts:
                self._day(day)
            for proceeds in equity.get(day, ()):
                self._equity(proceeds)
        self._keep_before(None)
        self.result.groups = list(self.groups.values())
        self._split_groups()
        self._add_recoveries()
        # After the split: the groups carry it, and a close that resumes here splits them at this net again.
        self.result.checkpoints.append(self._checkpoint(self.cutoffs[-1]))
        return self.result

    def _keep_before(self, day: date | None) -> None:
        """The checkpoints asked for before `day` (None: all that are left): every day up to them is walked."""
        while self._keep_at and (day is None or self._keep_at[0] < day):
            self.result.checkpoints.append(self._checkpoint(self._keep_at.popleft()))

    def _walks(self, day: date) -> bool:
        return day <= self.cutoffs[-1] and (self.after is None or day > self.after)

    def _slot(self, day: date) -> int:
        return bisect.bisect_left(self.cutoffs, day)

    # ---- 1. cut each license's running income at the bracket thresholds ----------------------

    def _day(self, day: date) -> None:
        """Each receipt's income into its group. Receipts are summed per license, currency and asset
        (a cell) where their order or bracket matters (cost recovery splits by cell; tiers cut by
        license); elsewhere a day's income of an asset is summed first, so a group is touched once."""
        slot = self._slot(day)
        totals = self.result.receipts[slot]
        sales, costs, running = self.view.sales, self.view.costs, self.running
        flat = self.view.flat  # no brackets: every piece is a whole cell
        sums: dict[tuple[str, str, bool], Cell] = {}
        cells: dict[tuple[str, str, str, bool], Cell] = {}  # (license, currency, asset, a reimbursement?)
        for receipt in self.view.receipts_on(day):
            license_id, currency, receipt_id = receipt.license_id, receipt.currency, receipt.receipt_id
            totals[currency] = totals.get(currency, 0) + receipt.amount
            sale = license_id in sales
            for asset_id, amount in receipt.parts().items():
                if flat and (asset_id, currency) not in costs:
                    cell = sums.get((asset_id, currency, sale))
                    if cell is None:
                        cell = sums[(asset_id, currency, sale)] = Cell()
                else:
                    key = (license_id, currency, asset_id, receipt.kind == REIMBURSEMENT_KIND)
                    cell = cells.get(key)
                    if cell is None:
                        cell = cells[key] = Cell()
                cell.add(amount, receipt_id)
            if flat:
                running[(license_id, currency)] += receipt.amount
        for (asset_id, currency, sale), cell in sums.items():
            group = self._group(asset_id, currency, day, 0, sale)
            group.net[slot] += cell.amount
            if slot == self.last:
                group.receipt_ids.extend(cell.receipt_ids)
        pieces: dict[tuple[str, str], list[_Piece]] = defaultdict(list)
        # Tiers cut a license's running income: its cells must come in the same order every time.
        for (license_id, currency, asset_id, reimburses), cell in sorted(cells.items()):
            sale = license_id in sales
            for start, part in self._brackets(currency, running[(license_id, currency)], cell.amount):
                pieces[(asset_id, currency)].append(
                    _Piece(start, part, cell.receipt_ids, slot, sale=sale, license_id=license_id, reimburses=reimburses)
                )
            if not flat:
                running[(license_id, currency)] += cell.amount
        for (asset_id, currency), asset_pieces in sorted(pieces.items()):
            asset_pieces.sort(key=lambda p: p.license_id)  # the walk's result must not depend on arrival order
            if (asset_id, currency) in costs:
                self._recover(asset_id, currency, day, asset_pieces)
            for piece in asset_pieces:
                self._add_to_group(asset_id, currency, day, piece)

    def _brackets(self, currency: str, running: int, amount: int) -> Iterator[tuple[int, int]]:
        """(bracket start, amount) pieces of moving the running income in `currency` by `amount`."""
        thresholds = self.view.thresholds_in(currency)
        if len(thresholds) == 1:
            yield 0, amount
            return
        low, high = sorted((running, running + amount))
        sign = 1 if amount >= 0 else -1
        index = bracket_at(thresholds, low)
        while True:
            start = thresholds[index]
            end = thresholds[index + 1] if index + 1 < len(thresholds) else None
            top = high if end is None else min(high, end)
            if top > low or amount == 0:
                yield start, sign * (top - low)
            if end is None or high <= end:
                return
            low, index = end, index + 1

    # ---- 2. recover costs per asset and day, then 3. sum into allocation groups -----------------

    def _recover(self, asset_id: str, currency: str, day: date, pieces: list[_Piece]) -> None:
        """A licensee's reimbursements repay the asset's costs first, whatever the policy, in full;
        then, if the center's policy recovers costs, the day's income repays what is left (capped).
        A refund (a negative piece) then takes back what costs were repaid, newest first, before it
        reduces what the payees get: it never leaves them owing while a recovery it paid is kept."""
        policy = self.view.policies.center_at(day)
        refunds = [p for p in pieces if p.amount < 0]
        if refunds:
            pieces = [p for p in pieces if p.amount >= 0]
        reimbursing = [p for p in pieces if p.reimburses]
        if reimbursing:
            self._repay(asset_id, currency, day, reimbursing, sum(p.amount for p in reimbursing), policy.version)
        if policy.recover_costs:
            earning = [p for p in pieces if not p.reimburses] if reimbursing else pieces
            income = sum(p.amount for p in earning)
            cap = income if policy.cost_cap_bps is None else income * policy.cost_cap_bps // BASIS_POINTS
            self._repay(asset_id, currency, day, earning, cap, policy.version)
        if refunds:
            returned = self._recovery(asset_id, currency).give_back(-sum(p.amount for p in refunds))
            self._book_recovery(asset_id, currency, day, refunds, returned, policy.version, sign=-1)

    def _repay(self, asset_id: str, currency: str, day: date, pieces: list[_Piece], cap: int, version: str) -> None:
        """Up to `cap` of the asset's unrecovered costs, oldest first, taken from `pieces` pro rata."""
        if cap > 0:
            paid = self._recovery(asset_id, currency).recover(day, cap)
            self._book_recovery(asset_id, currency, day, pieces, paid, version, sign=1)

    def _recovery(self, asset_id: str, currency: str) -> _CostRecovery:
        recovery = self.recoveries.get((asset_id, currency))
        if recovery is None:
            recovery = _CostRecovery(self.view.costs[(asset_id, currency)], self.recovered_costs)
            self.recoveries[(asset_id, currency)] = recovery
        return recovery

    def _book_recovery(
        self,
        asset_id: str,
        currency: str,
        day: date,
        pieces: list[_Piece],
        paid: dict[tuple[str, str], int],
        version: str,
        sign: int,
    ) -> None:
        """Costs repaid (sign 1) or taken back by a refund (sign -1): from the pieces pro rata, to the payers."""
        if not paid:
            return
        weights = {i: sign * p.amount for i, p in enumerate(pieces) if sign * p.amount > 0}
        for i, part in split_by_weight(sum(paid.values()), weights).items():
            pieces[i].recovered = sign * part
        slot = self._slot(day)
        receipt_ids = [r for p in pieces for r in p.receipt_ids] if slot == self.last else []
        for (payer, cost_id), amount in paid.items():
            key = (Payee(PayeeKind.MEMBER, payer, ""), currency, Step.COST_RECOVERY, version)
            self._recovered[slot][(*key, asset_id)] += sign * amount
            if receipt_ids:
                self.result.sources[key].append(SourceGroup.of(asset_id, receipt_ids, [cost_id]))

    def _add_to_group(self, asset_id: str, currency: str, day: date, piece: _Piece) -> None:
        group = self._group(asset_id, currency, day, piece.bracket_start, piece.sale)
        group.net[piece.slot] += piece.amount - piece.recovered
        if piece.slot == self.last:
            group.receipt_ids.extend(piece.receipt_ids)

    def _group(self, asset_id: str, currency: str, day: date, bracket_start: int, sale: bool) -> _Group:
        spec_key = (asset_id, currency, self._segment(asset_id, day), bracket_start, sale)
        group = self._group_memo.get(spec_key)  # a group key is a long tuple: hash it once per spec
        if group is None:
            key, spec, fact_ids = self._spec(asset_id, currency, day, bracket_start, sale)
            group = self.groups.get(key)
            if group is None:
                group = _Group(key, asset_id, currency, spec, net=[0] * len(self.cutoffs), fact_ids=fact_ids)
                self.groups[key] = group
            self._group_memo[spec_key] = group
        return group

    def _segment(self, asset_id: str, day: date) -> int:
        """Which span of days with the same ownership, inventors and policies in force `day` is in."""
        breaks = self._breaks.get(asset_id)
        if breaks is None:
            dates = {s.effective_date for s in self.view.ownership.get(asset_id, [])}
            dates.update(s.effective_date for s in self.view.inventors.get(asset_id, []))
            breaks = self._breaks[asset_id] = sorted(dates.union(self._policy_dates))
        return bisect.bisect_right(breaks, day)

    def _spec(
        self, asset_id: str, currency: str, day: date, bracket_start: int, sale: bool
    ) -> tuple[tuple[object, ...], GroupSpec, tuple[str, ...]]:
        center = self.view.policies.center_at(day)
        researchers = center.bracket_for(currency, bracket_start).researchers_bps
        ownership = self.view.owners_at(asset_id, day)
        inventors = self.view.inventors_at(asset_id, day)
        owners = ownership.payees(sale) if ownership else None  # empty: assigned out, held as unallocated
        splits: dict[str, MemberSplit] = {}
        for member_id in owners or ():
            splits[member_id] = self._member_split(member_id, currency, day, bracket_start, inventors)
        spec = GroupSpec(
            center_version=center.version,
            fee_bps=center.fee_bps,
            researchers_bps=researchers,
            inventors=inventors.contributions if inventors else None,
            owners=owners,
            member_splits=splits,
        )
        # The sellers' group of a sale's proceeds is another group than the unallocated one.
        owned_by: object = None
        if ownership is not None:
            owned_by = (ownership.fact_id, "sellers") if sale and ownership.assigned_out else ownership.fact_id
        key = (
            asset_id,
            currency,
            owned_by,
            inventors.fact_id if inventors else None,
            center.version,
            researchers,
            tuple((m, s.version, tuple(s.split.items())) for m, s in splits.items()),
        )
        fact_ids = tuple(f.fact_id for f in (ownership, inventors) if f is not None)
        return key, spec, fact_ids

    def _member_split(
        self, member_id: str, currency: str, day: date, bracket_start: int, inventors: InventorShares | None
    ) -> MemberSplit:
        policy = self.view.policies.member_at(member_id, day)
        split = policy.split_for(currency, bracket_start).split if policy else DEFAULT_SPLIT
        # The member's own inventors of the asset, all of them if none is its own; none known: held.
        own = (inventors.of_member(member_id) or dict(inventors.contributions)) if inventors else None
        return MemberSplit(policy.version if policy else DEFAULT_VERSION, split, own)

    # ---- equity proceeds: straight into the member's own split ---------------------------------

    def _equity(self, proceeds: EquityProceeds) -> None:
        day = proceeds.effective_date
        slot = self._slot(day)
        totals = self.result.receipts[slot]
        totals[proceeds.currency] = totals.get(proceeds.currency, 0) + proceeds.amount
        contributions: dict[str, int] = defaultdict(int)
        everyone: dict[str, int] = defaultdict(int)
        fact_ids: list[str] = []
        for asset_id in proceeds.asset_ids:
            inventors = self.view.inventors_at(asset_id, day)
            if inventors is not None:
                fact_ids.append(inventors.fact_id)
                for researcher, bps in inventors.of_member(proceeds.member_id).items():
                    contributions[researcher] += bps
                for researcher, bps in inventors.contributions.items():
                    everyone[researcher] += bps
        # As for a receipt: the member's own inventors of the spin-off's assets, all of them if none
        # is its own, held while none is known.
        own = dict(sorted((contributions or everyone).items())) if fact_ids else None
        member_split = self._member_split(proceeds.member_id, proceeds.currency, day, 0, None)
        member_split = MemberSplit(member_split.version, member_split.split, own)
        scope = f"equity:{proceeds.spin_off_id}"
        key = ("equity", scope, proceeds.member_id, proceeds.currency, member_split.version, tuple(sorted(fact_ids)))
        group = self.groups.get(key)
        if group is None:
            net = [0] * len(self.cutoffs)
            group = _Group(key, scope, proceeds.currency, None, proceeds.member_id, member_split, net)
            group.fact_ids = tuple(sorted(fact_ids))
            self.groups[key] = group
        group.net[slot] += proceeds.amount
        if slot == self.last:
            group.receipt_ids.append(proceeds.fact_id)

    # ---- 4. split each group's cumulative net amount once per cut-off --------------------------

    def _split_groups(self) -> None:
        for group in self.groups.values():
            cumulative = 0
            for slot, net in enumerate(group.net):
                cumulative += net
                entitled = self.result.entitled[slot]
                for payee, step, version, amount in self._parts(group, cumulative):
                    entitled[(payee, group.currency, step, version, group.scope)] += amount
            if group.receipt_ids or group.net[self.last]:
                source = SourceGroup.of(group.scope, group.receipt_ids, group.fact_ids)
                for payee, step, version, _ in self._parts(group, cumulative):
                    self.result.sources[(payee, group.currency, step, version)].append(source)

    def _add_recoveries(self) -> None:
        """Cost recoveries were booked per slot; entitlements are cumulative."""
        running: dict[ScopedKey, int] = defaultdict(int)
        for slot, recovered in enumerate(self._recovered):
            for key, amount in recovered.items():
                running[key] += amount
            for key, amount in running.items():
                self.result.entitled[slot][key] += amount

    def _parts(self, group: _Group, net: int) -> list[Part]:
        """A group's split of its cumulative `net`. A pass resumed from a checkpoint splits each
        group at the previous close's end again: the group carries that split from the last pass."""
        if group.split is not None and group.split[0] == net:
            return group.split[1]
        if group.spec is not None:
            parts = split_net(net, group.spec) if net else []
        else:
            assert group.member_split is not None
            split = group.member_split
            parts = split_inside_member(net, group.member_id, split, Step.EQUITY, split.version)
        group.split = (net, parts)
        return parts

    def _checkpoint(self, day: date) -> Checkpoint:
        """The walk's state once every day up to `day` is walked (none after it)."""
        recovered_costs = dict(self.recovered_costs)
        for recovery in self.recoveries.values():
            recovered_costs.update(recovery.recovered())
        groups = {key: group.with_net([sum(group.net)]) for key, group in self.groups.items()}
        return Checkpoint(
            day, dict(self.running), recovered_costs, summed(self._recovered), groups, summed(self.result.receipts)
        )


_K = TypeVar("_K")


def summed(per_slot: list[dict[_K, int]]) -> dict[_K, int]:
    """Amounts per slot summed per key."""
    total: dict[_K, int] = {}
    for amounts in per_slot:
        for key, amount in amounts.items():
            total[key] = total.get(key, 0) + amount
    return total


@dataclass(slots=True)
class _Piece:
    """Part of a cell that lies in one bracket."""

    bracket_start: int
    amount: int
    receipt_ids: list[str]  # the cell's (read only for the sources of the last slot)
    slot: int
    recovered: int = 0
    sale: bool = False  # a sale's proceeds: paid to the sellers once the asset is assigned out
    license_id: str = ""
    reimburses: bool = False  # a licensee's reimbursement of costs (`facts.REIMBURSEMENT_KIND`)


class _CostRecovery:
    """Costs of one asset and currency, recovered oldest first (by date, then the source's log order)."""

    def __init__(self, costs: list[AssetCost], recovered: Mapping[str, int]) -> None:
        self.costs = costs  # in `facts.in_log_order`
        self.left = [c.amount - recovered.get(c.cost_id, 0) for c in costs]

    def recovered(self) -> dict[str, int]:
        return {c.cost_id: c.amount - left for c, left in zip(self.costs, self.left, strict=True)}

    def recover(self, day: date, cap: int) -> dict[tuple[str, str], int]:
        paid: dict[tuple[str, str], int] = {}
        for i, cost in enumerate(self.costs):
            if cap <= 0 or cost.effective_date > day:
                break
            take = min(self.left[i], cap)
            if take:
                self.left[i] -= take
                cap -= take
                paid[(cost.paid_by, cost.cost_id)] = take
        return paid

    def give_back(self, amount: int) -> dict[tuple[str, str], int]:
        """Up to `amount` of what was recovered, the newest cost first: it is unrecovered again."""
        returned: dict[tuple[str, str], int] = {}
        for i in reversed(range(len(self.costs))):
            cost = self.costs[i]
            take = min(cost.amount - self.left[i], amount)
            if take > 0:
                self.left[i] += take
                amount -= take
                returned[(cost.paid_by, cost.cost_id)] = take
        return returned
