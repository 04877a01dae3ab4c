"""The split of one net amount under one fixed set of facts (one allocation group).

Every step uses largest-remainder allocation, so the parts always sum to the
amount given, to the minor unit; the same inputs always give the same parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from ipshare.money import BASIS_POINTS, allocate
from revenue_share.domain.facts import CENTER_FEE, SUSPENSE, UNALLOCATED, Payee, PayeeKind, Step
from revenue_share.domain.policy import ROLE_INVENTORS, ROLE_MEMBER

_K = TypeVar("_K", str, int)
Part = tuple[Payee, Step, str, int]  # payee, step, policy version, amount


@dataclass(frozen=True, slots=True)
class MemberSplit:
    """How one co-owner splits its share inside: roles in bps, and its own inventors."""

    version: str
    split: Mapping[str, int]
    # The member's affiliated inventors of the asset (all its inventors if none is affiliated with
    # the member); None while no inventor of the asset is known: their part is held in suspense.
    inventors: Mapping[str, int] | None


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """Everything the split of one group depends on (center policy, owners, inventors)."""

    center_version: str
    fee_bps: int
    researchers_bps: int
    inventors: Mapping[str, int] | None  # researcher -> contribution bps; None: unknown, held
    owners: Mapping[str, int] | None  # member -> share bps; None: unknown, held; empty: no member owns it
    member_splits: Mapping[str, MemberSplit]


def split_by_weight(total: int, weights: Mapping[_K, int]) -> dict[_K, int]:
    """`ipshare.money.allocate` (largest remainder, ties to the smaller key), typed for str and int keys."""
    return allocate(total, weights)


def _portion(total: int, bps: int) -> int:
    """`bps` of `total`: the first part of a two-way largest-remainder split (as `allocate` gives it)."""
    if bps in (0, BASIS_POINTS):
        return total if bps else 0
    if total < 0:
        return -_portion(-total, bps)
    share, remainder = divmod(total * bps, BASIS_POINTS)
    other, other_remainder = divmod(total * (BASIS_POINTS - bps), BASIS_POINTS)
    # One minor unit is left over when the remainders are non-zero; the larger remainder
    # takes it, and on a tie the first key (this part) wins.
    if total - share - other and remainder >= other_remainder:
        share += 1
    return share


def split_net(net: int, spec: GroupSpec) -> list[Part]:
    """Operating fee, researchers' reward, then owners by share and each owner's own split."""
    parts: list[Part] = []
    fee = _portion(net, spec.fee_bps)
    if fee:
        parts.append((CENTER_FEE, Step.OPERATING_FEE, spec.center_version, fee))
    rest = net - fee
    reward = _portion(rest, spec.researchers_bps)
    if reward:
        parts.extend(_to_researchers(reward, spec.inventors, Step.RESEARCHERS_REWARD, spec.center_version))
    owners_pool = rest - reward
    if not owners_pool:
        return parts
    if spec.owners is None:
        parts.append((SUSPENSE, Step.OWNER_SHARE, spec.center_version, owners_pool))
        return parts
    if not spec.owners:  # assigned out of the membership: see `facts.UNALLOCATED`
        parts.append((UNALLOCATED, Step.OWNER_SHARE, spec.center_version, owners_pool))
        return parts
    for member_id, share in split_by_weight(owners_pool, spec.owners).items():
        member_split = spec.member_splits[member_id]
        version = f"{spec.center_version}+{member_split.version}"
        parts.extend(split_inside_member(share, member_id, member_split, Step.OWNER_SHARE, version))
    return parts


def split_inside_member(amount: int, member_id: str, member_split: MemberSplit, step: Step, version: str) -> list[Part]:
    """A member's own split of what it receives: its inventors, its internal accounts, itself."""
    parts: list[Part] = []
    for role, part in split_by_weight(amount, member_split.split).items():
        if not part:
            continue
        if role == ROLE_INVENTORS:
            parts.extend(_to_researchers(part, member_split.inventors, step, version))
        else:
            account = "" if role == ROLE_MEMBER else role
            parts.append((Payee(PayeeKind.MEMBER, member_id, account), step, version, part))
    return parts


def _to_researchers(amount: int, inventors: Mapping[str, int] | None, step: Step, version: str) -> list[Part]:
    if not inventors:
        return [(SUSPENSE, step, version, amount)]
    return [
        (Payee(PayeeKind.RESEARCHER, researcher, ""), step, version, part)
        for researcher, part in split_by_weight(amount, inventors).items()
        if part
    ]
