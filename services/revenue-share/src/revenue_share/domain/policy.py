"""Distribution policies as data: versioned, effective-dated, center-wide and per member.

The center-wide policy runs the first steps on each receipt (cost recovery, the
operating fee, the researchers' reward); a member's own policy splits that member's
share inside it (roles such as inventors / department / institution). Brackets
switch rates by the cumulative income of the license. Every version is kept; the
one in force on a date is the last with `effective_date <= date` (a later recorded
version on the same date supersedes).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import TypeVar

from ipshare_kernel.errors import Conflict, DomainError, Forbidden
from ipshare_kernel.money import BASIS_POINTS, MINOR_UNITS, check_currency
from revenue_share.domain.facts import Member, frozen_shares

ROLE_MEMBER = "member"  # the member itself
ROLE_INVENTORS = "inventors"  # the member's own inventors of the asset, by contribution
STATUTORY_FLOOR_BPS = 5_000  # Art. 45: researchers get at least 50% of net licensing income
DEFAULT_VERSION = "default"


def _check_bps(value: int, what: str) -> None:
    if not isinstance(value, int) or not 0 <= value <= BASIS_POINTS:
        raise DomainError(f"{what} must be basis points in 0..{BASIS_POINTS}", value=repr(value))


def _check_thresholds(brackets: Sequence[ResearcherBracket | SplitBracket], version: str) -> None:
    if not brackets or brackets[0].from_amount != 0:
        raise DomainError("the first bracket starts at a cumulative income of 0", policy_version=version)
    for bracket in brackets:
        if bracket.currency and bracket.currency not in MINOR_UNITS:
            raise DomainError(f"a threshold's currency must be an ISO 4217 code, not {bracket.currency!r}",
                              policy_version=version)  # fmt: skip
    for currency in {b.currency for b in brackets}:
        amounts = [brackets[0].from_amount, *(b.from_amount for b in brackets[1:] if b.currency in ("", currency))]
        if any(b <= a for a, b in itertools.pairwise(amounts)):
            raise DomainError("bracket thresholds must strictly increase in each currency", policy_version=version,
                              currency=currency or "any")  # fmt: skip


_B = TypeVar("_B", "ResearcherBracket", "SplitBracket")


def _in_currency(brackets: Sequence[_B], currency: str) -> tuple[_B, ...]:
    """The brackets that cut income in `currency`: the first one (from 0) and those whose threshold is
    in that currency, or in none (a version recorded before thresholds had a currency: any)."""
    return tuple(b for i, b in enumerate(brackets) if not i or b.currency in ("", currency))


def bracket_at(thresholds: tuple[int, ...], position: int) -> int:
    """Index of the bracket holding cumulative income `position` (income from a threshold on is above it)."""
    return max(bisect.bisect_right(thresholds, position) - 1, 0)


@dataclass(frozen=True, slots=True)
class ResearcherBracket:
    from_amount: int  # cumulative income of the license (minor units) from which the bracket applies
    researchers_bps: int  # researchers' reward, in bps of the income net of cost recovery and fee
    # The threshold's currency: it cuts only a license's income in that currency. "" on the first
    # bracket (from 0: every currency) and on versions recorded before thresholds had a currency,
    # whose thresholds cut income in every currency, as they did when their statements were issued.
    currency: str = ""


@dataclass(frozen=True, slots=True)
class SplitBracket:
    from_amount: int
    split: Mapping[str, int]  # role -> bps, summing to 10,000
    currency: str = ""  # as `ResearcherBracket.currency`

    def __post_init__(self) -> None:
        object.__setattr__(self, "split", frozen_shares(self.split, "a member's split"))


@dataclass(frozen=True, slots=True)
class CenterPolicy:
    version: str
    effective_date: date
    recorded_at: datetime
    fee_bps: int = 0
    recover_costs: bool = False
    cost_cap_bps: int | None = None  # at most this share of each day's income on an asset goes to costs
    researcher_brackets: tuple[ResearcherBracket, ...] = (ResearcherBracket(0, STATUTORY_FLOOR_BPS),)
    minimum_payout: Mapping[str, int] = field(default_factory=dict)  # currency -> minor units
    set_by: str = ""

    def __post_init__(self) -> None:
        _check_bps(self.fee_bps, "the operating fee")
        if self.cost_cap_bps is not None:
            _check_bps(self.cost_cap_bps, "the cost recovery cap")
        for bracket in self.researcher_brackets:
            _check_bps(bracket.researchers_bps, "the researchers' reward")
        _check_thresholds(self.researcher_brackets, self.version)
        for currency, amount in self.minimum_payout.items():
            check_currency(currency)
            if amount < 0:
                raise DomainError("a minimum payout is not negative", currency=currency)
        object.__setattr__(self, "minimum_payout", MappingProxyType(dict(sorted(self.minimum_payout.items()))))

    def thresholds_in(self, currency: str) -> tuple[int, ...]:
        return tuple(b.from_amount for b in _in_currency(self.researcher_brackets, currency))

    def bracket_for(self, currency: str, position: int) -> ResearcherBracket:
        """The bracket of a license's cumulative income `position` in `currency`."""
        brackets = _in_currency(self.researcher_brackets, currency)
        return brackets[bracket_at(tuple(b.from_amount for b in brackets), position)]


@dataclass(frozen=True, slots=True)
class MemberPolicy:
    version: str
    member_id: str
    effective_date: date
    recorded_at: datetime
    split_brackets: tuple[SplitBracket, ...]
    set_by: str = ""

    def __post_init__(self) -> None:
        _check_thresholds(self.split_brackets, self.version)

    def thresholds_in(self, currency: str) -> tuple[int, ...]:
        return tuple(b.from_amount for b in _in_currency(self.split_brackets, currency))

    def split_for(self, currency: str, position: int) -> SplitBracket:
        """The split of a license's cumulative income `position` in `currency`."""
        brackets = _in_currency(self.split_brackets, currency)
        return brackets[bracket_at(tuple(b.from_amount for b in brackets), position)]


DEFAULT_CENTER_POLICY = CenterPolicy(DEFAULT_VERSION, date.min, datetime.min)
DEFAULT_SPLIT: Mapping[str, int] = MappingProxyType({ROLE_MEMBER: BASIS_POINTS})


def researchers_bps_of_net(center_bps: int, inventors_bps: int, fee_bps: int = 0) -> tuple[int, int]:
    """The researchers' part of a member's net income as a fraction (numerator, denominator).

    The member's part of the net income pays the center's operating fee (`fee_bps`: a share of
    the income, not a cost of the result, so it counts against the floor), then the researchers'
    reward (`center_bps` of the rest), then the member's split gives `inventors_bps` of what is
    left to its inventors.
    """
    whole = BASIS_POINTS**3
    return (BASIS_POINTS - fee_bps) * (center_bps * BASIS_POINTS + (BASIS_POINTS - center_bps) * inventors_bps), whole


def minimum_inventors_bps(center_bps: int, fee_bps: int = 0) -> int | None:
    """The smallest inventors' share of a member's split that meets the floor after the fee and the
    center's reward; None if none does (the fee leaves the researchers less than half even at 100%)."""
    for inventors in (0, BASIS_POINTS):
        numerator, whole = researchers_bps_of_net(center_bps, inventors, fee_bps)
        if inventors and numerator * BASIS_POINTS < STATUTORY_FLOOR_BPS * whole:
            return None
    low, high = 0, BASIS_POINTS  # the share is monotone: bisect on it
    while low < high:
        middle = (low + high) // 2
        numerator, whole = researchers_bps_of_net(center_bps, middle, fee_bps)
        if numerator * BASIS_POINTS >= STATUTORY_FLOOR_BPS * whole:
            high = middle
        else:
            low = middle + 1
    return low


class PolicyBook:
    """Every policy version, with look-ups of the one in force on a date."""

    def __init__(self, policies: Iterable[CenterPolicy | MemberPolicy] = ()) -> None:
        self._versions: dict[str, CenterPolicy | MemberPolicy] = {}
        self._center: list[CenterPolicy] = []
        self._members: dict[str, list[MemberPolicy]] = {}
        for policy in policies:
            self.record(policy)

    def record(self, policy: CenterPolicy | MemberPolicy) -> bool:
        """Keep a version (replay: no rule checks). False if already kept; a different one is a conflict."""
        known = self._versions.get(policy.version)
        if known is not None:
            if known != policy:
                raise Conflict(f"policy version {policy.version!r} already exists with other content")
            return False
        self._versions[policy.version] = policy
        if isinstance(policy, CenterPolicy):
            self._center.append(policy)
            self._center.sort(key=_order)
        else:
            versions = self._members.setdefault(policy.member_id, [])
            versions.append(policy)
            versions.sort(key=_order)
        return True

    def versions(self) -> list[CenterPolicy | MemberPolicy]:
        return sorted(self._versions.values(), key=lambda p: p.version)

    def as_of(self, recorded_by: datetime) -> PolicyBook:
        return PolicyBook(p for p in self._versions.values() if p.recorded_at <= recorded_by)

    def center_at(self, day: date) -> CenterPolicy:
        return _in_force(self._center, day) or DEFAULT_CENTER_POLICY

    def member_at(self, member_id: str, day: date) -> MemberPolicy | None:
        return _in_force(self._members.get(member_id, []), day)

    def center_from(self, day: date) -> list[CenterPolicy]:
        """The center versions in force on `day` or any later day."""
        return [self.center_at(day)] + [p for p in self._center if p.effective_date > day]

    def member_from(self, member_id: str, day: date) -> list[MemberPolicy | None]:
        later = [p for p in self._members.get(member_id, []) if p.effective_date > day]
        return [self.member_at(member_id, day), *later]

    def thresholds(self, currency: str) -> tuple[int, ...]:
        """Every bracket threshold in `currency` of every version: a license's income in that currency
        is cut at these before it is split."""
        cuts: set[int] = {0}
        for policy in self._versions.values():
            cuts.update(policy.thresholds_in(currency))
        return tuple(sorted(cuts))

    def tiered(self) -> bool:
        """Whether any version has brackets above the first (in any currency)."""
        return any(len(_brackets(p)) > 1 for p in self._versions.values())

    # ---- guards for an admin changing a policy (the application layer calls these) -----------

    def set_center_policy(self, policy: CenterPolicy, members: Iterable[Member], by_admin: bool) -> None:
        if not by_admin:
            raise Forbidden("only an admin may change the center's distribution policy")
        for member in members:
            if member.under_statutory_floor:
                for member_policy in self.member_from(member.member_id, policy.effective_date):
                    _check_floor(member, policy, member_policy)
        self._check_new_version(policy)
        self.record(policy)

    def set_member_policy(self, policy: MemberPolicy, member: Member | None, by_admin: bool) -> None:
        if not by_admin:
            raise Forbidden("only an admin may change a member's distribution policy", member_id=policy.member_id)
        if member is not None and member.member_id != policy.member_id:
            raise DomainError("the policy names another member", member_id=policy.member_id)
        if member is not None and member.under_statutory_floor:
            for center in self.center_from(policy.effective_date):
                _check_floor(member, center, policy)
        self._check_new_version(policy)
        self.record(policy)

    def _check_new_version(self, policy: CenterPolicy | MemberPolicy) -> None:
        if policy.version in self._versions:
            raise Conflict(f"policy version {policy.version!r} already exists; every version is kept")


_P = TypeVar("_P", CenterPolicy, MemberPolicy)


def _brackets(policy: CenterPolicy | MemberPolicy) -> tuple[ResearcherBracket, ...] | tuple[SplitBracket, ...]:
    return policy.researcher_brackets if isinstance(policy, CenterPolicy) else policy.split_brackets


def _order(policy: CenterPolicy | MemberPolicy) -> tuple[date, datetime, str]:
    return policy.effective_date, policy.recorded_at, policy.version


def _in_force(versions: list[_P], day: date) -> _P | None:
    index = bisect.bisect_right([p.effective_date for p in versions], day)
    return versions[index - 1] if index else None


def _check_floor(member: Member, center: CenterPolicy, policy: MemberPolicy | None) -> None:
    splits = [b.split for b in policy.split_brackets] if policy else [DEFAULT_SPLIT]
    for bracket in center.researcher_brackets:
        for split in splits:
            inventors = split.get(ROLE_INVENTORS, 0)
            numerator, whole = researchers_bps_of_net(bracket.researchers_bps, inventors, center.fee_bps)
            if numerator * BASIS_POINTS < STATUTORY_FLOOR_BPS * whole:
                percent = f"{100 * numerator / whole:.2f}"
                raise DomainError(
                    f"member {member.member_id} is a state-established {member.kind}: its researchers must get at "
                    f"least 50% of net licensing income (Art. 45; the center's operating fee counts against it), but "
                    f"center policy {center.version!r} with member policy "
                    f"{policy.version if policy else DEFAULT_VERSION!r} gives them {percent}%",
                    member_id=member.member_id,
                    center_policy_version=center.version,
                    member_policy_version=policy.version if policy else DEFAULT_VERSION,
                    researchers_percent_of_net=percent,
                    minimum_inventors_bps=minimum_inventors_bps(bracket.researchers_bps, center.fee_bps),
                )
