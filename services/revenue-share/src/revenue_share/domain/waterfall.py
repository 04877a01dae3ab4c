"""The split of one net amount under one fixed set of facts (one allocation group).

Every step uses largest-remainder allocation, so the parts always sum to the
amount given, to the minor unit; the same inputs always give the same parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from ipshare_kernel.money import BASIS_POINTS, allocate
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
    """`ipshare_kernel.money.allocate` (largest remainder, ties to the smaller key), typed for str and int keys."""
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
    """In two stages: the net amount between the owners by share, then each owner's part on its own
    (`split_owner_part`). With no owner known, or none once the asset is assigned out, at the center:
    the fee, the researchers' reward to all the inventors, and the rest held."""
    if not spec.owners:
        return _split_unowned(net, spec)
    parts: list[Part] = []
    for member_id, share in split_by_weight(net, spec.owners).items():
        parts.extend(split_owner_part(share, member_id, spec))
    return parts


def split_owner_part(amount: int, member_id: str, spec: GroupSpec) -> list[Part]:
    """An owner's part of the net amount: the operating fee, the researchers' reward paid to its
    inventors (Art. 45: a unit rewards the people who made the result from its own income), then
    its own split. The owner's inventors are those affiliated with it, all the inventors if none is,
    and held in suspense while none is known (`MemberSplit.inventors`)."""
    member_split = spec.member_splits[member_id]
    parts, pool = _fee_and_reward(amount, spec, member_split.inventors)
    if pool:
        version = f"{spec.center_version}+{member_split.version}"
        parts.extend(split_inside_member(pool, member_id, member_split, Step.OWNER_SHARE, version))
    return parts


def researchers_credited(parts: list[Part]) -> int:
    """What an owner's part pays its researchers, with what is held for them (inventors unknown)."""
    return sum(amount for payee, _, _, amount in parts if payee.kind is PayeeKind.RESEARCHER or payee == SUSPENSE)


def _fee_and_reward(amount: int, spec: GroupSpec, inventors: Mapping[str, int] | None) -> tuple[list[Part], int]:
    """The operating fee and the researchers' reward (to `inventors`) of an amount, and what is left."""
    parts: list[Part] = []
    fee = _portion(amount, spec.fee_bps)
    if fee:
        parts.append((CENTER_FEE, Step.OPERATING_FEE, spec.center_version, fee))
    reward = _portion(amount - fee, spec.researchers_bps)
    if reward:
        parts.extend(_to_researchers(reward, inventors, Step.RESEARCHERS_REWARD, spec.center_version))
    return parts, amount - fee - reward


def _split_unowned(net: int, spec: GroupSpec) -> list[Part]:
    parts, pool = _fee_and_reward(net, spec, spec.inventors)
    if pool:
        # None: no owner known yet (held until one is); empty: assigned out (see `facts.UNALLOCATED`).
        held = SUSPENSE if spec.owners is None else UNALLOCATED
        parts.append((held, Step.OWNER_SHARE, spec.center_version, pool))
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
