"""The facts revenue-share knows, decoded from other services' events.

Every fact carries the id of the event it came from and `recorded_at`: the time
revenue-share learned it (stored it). Business dates (`effective_date`) decide
*what* a fact means; `recorded_at` decides *which statements could have known it*
(a fact learned after a period closed is late and lands as an adjustment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from ipshare_kernel.errors import DomainError
from ipshare_kernel.money import BASIS_POINTS, MINOR_UNITS, allocate, check_currency, equal_parts


class MemberKind(StrEnum):
    ENTERPRISE = "enterprise"
    UNIVERSITY = "university"
    RESEARCH_INSTITUTE = "research_institute"
    OTHER = "other"


class PayeeKind(StrEnum):
    MEMBER = "member"
    RESEARCHER = "researcher"
    CENTER = "center"


class Step(StrEnum):
    """The step of the distribution that produced a statement line, in waterfall order."""

    COST_RECOVERY = "cost_recovery"
    OPERATING_FEE = "operating_fee"
    RESEARCHERS_REWARD = "researchers_reward"
    OWNER_SHARE = "owner_share"  # a co-owner's share, through the member's own split
    EQUITY = "equity"  # spin-off equity proceeds, through the member's own split


class Payee(NamedTuple):
    """Who a line is owed to; `account` names a member's internal account (e.g. department)."""

    kind: PayeeKind
    id: str
    account: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}" + (f"/{self.account}" if self.account else "")


CENTER_FEE = Payee(PayeeKind.CENTER, "center", "operating_fee")
# Money whose payee is not yet known (no owners or inventors in force on the receipt
# date): held, never paid, and released by an adjustment once the fact arrives.
SUSPENSE = Payee(PayeeKind.CENTER, "center", "suspense")
# The owners' share of a receipt on an asset no member owned on the receipt date (it was
# assigned out of the membership before): there is no member to pay, and the buyer is no
# payee of revenue-share. Held and carried forward like suspense, but never released by a
# later fact: finance settles it outside the waterfall (e.g. remits it to the buyer). The
# reconciliation shows it as `unallocated`, a part of the carried-forward figure.
UNALLOCATED = Payee(PayeeKind.CENTER, "center", "unallocated")
HELD = (SUSPENSE, UNALLOCATED)  # never paid by a close, whatever the minimum payout
# The receipt kind of a sale's proceeds (commercialization's `RevenueKind.ASSIGNMENT`).
SALE_KIND = "assignment"
# The receipt kind of a licensee's reimbursement of patent costs (`RevenueKind.COST_REIMBURSEMENT`): it
# repays the members that paid the asset's costs before anything is left for the waterfall.
REIMBURSEMENT_KIND = "cost_reimbursement"


def frozen_shares(shares: Mapping[str, int], what: str) -> Mapping[str, int]:
    """A read-only, key-sorted copy of a share map, checked to be positive and sum to 10,000."""
    if not shares:
        raise DomainError(f"{what} name at least one party")
    if any(not isinstance(v, int) or v <= 0 for v in shares.values()):
        raise DomainError(f"{what} must be positive integer basis points", shares=dict(shares))
    total = sum(shares.values())
    if total != BASIS_POINTS:
        raise DomainError(f"{what} must sum to {BASIS_POINTS} basis points, not {total}", total=total)
    return MappingProxyType(dict(sorted(shares.items())))


_NO_SPLIT: Mapping[str, int] = MappingProxyType({})


def _check_amount(amount: int, currency: str) -> None:
    check_currency(currency)
    if type(amount) is not int:
        raise DomainError("amounts are integers in minor units", amount=repr(amount))


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    kind: MemberKind
    state_established: bool
    recorded_at: datetime

    @property
    def under_statutory_floor(self) -> bool:
        """Art. 45: state-established universities and institutes must meet the floors."""
        return self.state_established and self.kind in (MemberKind.UNIVERSITY, MemberKind.RESEARCH_INSTITUTE)


@dataclass(frozen=True, slots=True)
class OwnershipSnapshot:
    """The full owner map of an asset in force from `effective_date`.

    An assignment out of the membership is a snapshot with no owners: `sellers` names the
    owners who sold (the map in force until `effective_date`).
    """

    fact_id: str
    asset_id: str
    effective_date: date
    owners: Mapping[str, int]  # member id -> basis points; empty once assigned out
    recorded_at: datetime
    sellers: Mapping[str, int] = field(default_factory=dict)  # only on an assignment out
    position: int = 0  # in the source service's log: orders snapshots of one date (`in_log_order`)

    def __post_init__(self) -> None:
        if self.sellers:
            if self.owners:
                raise DomainError("an assignment out of the membership leaves no owners", fact_id=self.fact_id)
            object.__setattr__(self, "sellers", frozen_shares(self.sellers, "sellers' shares"))
            object.__setattr__(self, "owners", _NO_SPLIT)
            return
        object.__setattr__(self, "owners", frozen_shares(self.owners, "owner shares"))
        object.__setattr__(self, "sellers", _NO_SPLIT)

    @property
    def assigned_out(self) -> bool:
        return bool(self.sellers)

    def payees(self, sale: bool) -> Mapping[str, int]:
        """Who the owners' share of a receipt dated in this snapshot goes to, by share.

        Once the asset is assigned out no member owns it: a receipt is split by ownership on
        its date, so the owners' share of a royalty (even one for sales made before the
        sale) has no member to go to and is held as unallocated. The one exception is the
        sale's own proceeds (a `SALE_KIND` receipt), which are almost always received on or
        after the transfer date: they belong to the members who sold.
        """
        return self.sellers if sale and self.assigned_out else self.owners


@dataclass(frozen=True, slots=True)
class InventorShares:
    """The inventors of an asset in force from `effective_date` (a correction is a new snapshot)."""

    fact_id: str
    asset_id: str
    effective_date: date
    contributions: Mapping[str, int]  # researcher id -> basis points
    affiliations: Mapping[str, str]  # researcher id -> member id
    recorded_at: datetime
    position: int = 0  # in the source service's log: orders corrections of one date (`in_log_order`)

    def __post_init__(self) -> None:
        object.__setattr__(self, "contributions", frozen_shares(self.contributions, "inventor contributions"))
        object.__setattr__(self, "affiliations", MappingProxyType(dict(sorted(self.affiliations.items()))))

    def of_member(self, member_id: str) -> dict[str, int]:
        """Contributions of the inventors affiliated with `member_id`."""
        return {r: bps for r, bps in self.contributions.items() if self.affiliations.get(r) == member_id}


def in_log_order(fact: OwnershipSnapshot | InventorShares | AssetCost) -> tuple[date, int, str]:
    """The one order of an asset's dated facts, the same live, in a replay and after a rebuild:
    business date, then the position in the source service's log (a later event of the same
    date supersedes an earlier one: two co-owners selling on one day, two corrections of one
    day). Never the time revenue-share learned them (a replay learns a whole close's facts at
    one time) nor a random id."""
    fact_id = fact.cost_id if isinstance(fact, AssetCost) else fact.fact_id
    return fact.effective_date, fact.position, fact_id


@dataclass(frozen=True, slots=True)
class AssetCost:
    """A cost of an asset (filing, annuity...) paid by a member; recoverable from its income."""

    cost_id: str
    asset_id: str
    amount: int
    currency: str
    effective_date: date
    paid_by: str
    recorded_at: datetime
    position: int = 0  # in the source service's log: orders costs of one date (`in_log_order`)

    def __post_init__(self) -> None:
        _check_amount(self.amount, self.currency)
        if self.amount <= 0:
            raise DomainError("a cost is a positive amount", cost_id=self.cost_id)


class _ReceiptFields(NamedTuple):
    receipt_id: str
    license_id: str
    asset_ids: tuple[str, ...]
    kind: str
    amount: int
    currency: str
    effective_date: date  # the received date
    recorded_at: datetime
    asset_split: Mapping[str, int]  # asset -> bps; empty: equal parts


class CashReceipt(_ReceiptFields):
    """Money received on a license, for one or more assets (negative: a credit).

    An immutable tuple rather than a frozen dataclass: a history holds a million receipts,
    and a frozen dataclass takes five times as long to build.
    """

    __slots__ = ()

    def __new__(
        cls,
        receipt_id: str,
        license_id: str,
        asset_ids: tuple[str, ...],
        kind: str,
        amount: int,
        currency: str,
        effective_date: date,
        recorded_at: datetime,
        asset_split: Mapping[str, int] = _NO_SPLIT,
    ) -> CashReceipt:
        if type(amount) is not int or currency not in MINOR_UNITS:  # checked inline: a million receipts
            _check_amount(amount, currency)
        if len(asset_ids) != 1 or type(asset_ids) is not tuple:  # one asset: the common case, as is
            canonical = tuple(sorted(set(asset_ids)))
            if not canonical:
                raise DomainError("a receipt names at least one asset", receipt_id=receipt_id)
            if canonical != asset_ids or type(asset_ids) is not tuple:
                asset_ids = canonical  # else the caller's copy, which a license's receipts may share
        if asset_split:
            asset_split = frozen_shares(asset_split, "asset split")
            if set(asset_split) != set(asset_ids):
                raise DomainError("the asset split must name exactly the receipt's assets", receipt_id=receipt_id)
        elif type(asset_split) is not MappingProxyType:
            asset_split = _NO_SPLIT
        fields = (receipt_id, license_id, asset_ids, kind, amount, currency, effective_date, recorded_at, asset_split)
        return tuple.__new__(cls, fields)  # not the named tuple's own __new__: one Python call less

    def parts(self) -> dict[str, int]:
        """The receipt's part for each of its assets (largest remainder over the asset weights)."""
        if len(self.asset_ids) == 1:
            return {self.asset_ids[0]: self.amount}
        if not self.asset_split:
            return equal_parts(self.amount, self.asset_ids)  # asset_ids are sorted
        return allocate(self.amount, self.asset_split)


@dataclass(frozen=True, slots=True)
class EquityProceeds:
    """Proceeds from a spin-off's equity due to a member, paid through the member's own split."""

    fact_id: str
    member_id: str
    spin_off_id: str
    amount: int
    currency: str
    effective_date: date
    recorded_at: datetime
    asset_ids: tuple[str, ...] = ()  # the spin-off's assets: whose inventors the "inventors" role pays

    def __post_init__(self) -> None:
        _check_amount(self.amount, self.currency)
        object.__setattr__(self, "asset_ids", tuple(sorted(set(self.asset_ids))))


@dataclass(frozen=True, slots=True)
class Period:
    """A settlement period: receipts received from `start` to `end` inclusive."""

    period_id: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise DomainError("a period ends on or after its start", period_id=self.period_id)
