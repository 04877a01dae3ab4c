"""Shares in basis points: validation, transfers, and the effective-dated history.

A share map always sums to 10,000 with every share positive; an owner whose share
falls to zero leaves the map.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ipshare_kernel.errors import Conflict, DomainError
from ipshare_kernel.money import BASIS_POINTS

Shares = Mapping[uuid.UUID, int]  # member id -> basis points


def check_shares(shares: Shares, what: str = "owner shares") -> dict[uuid.UUID, int]:
    if not shares:
        raise DomainError(f"{what} name at least one member")
    not_positive = sorted(str(m) for m, bps in shares.items() if bps <= 0)
    if not_positive:
        raise DomainError(f"{what} must be positive basis points", members=not_positive)
    total = sum(shares.values())
    if total != BASIS_POINTS:
        raise DomainError(f"{what} must sum to {BASIS_POINTS} basis points, not {total}", total=total)
    return dict(shares)


def shares_from_pairs(pairs: Iterable[tuple[uuid.UUID, int]], what: str = "owner shares") -> dict[uuid.UUID, int]:
    """A share map from (member, bps) pairs, refusing a member named twice."""
    shares: dict[uuid.UUID, int] = {}
    for member_id, bps in pairs:
        if member_id in shares:
            raise DomainError(f"{what} name member {member_id} twice", member_id=str(member_id))
        shares[member_id] = bps
    return check_shares(shares, what)


def transfer(shares: Shares, from_member: uuid.UUID, to_member: uuid.UUID, bps: int) -> dict[uuid.UUID, int]:
    """The map after `from_member` assigns `bps` of its share to `to_member`."""
    if from_member == to_member:
        raise DomainError("a transfer needs two different members")
    if bps <= 0:
        raise DomainError("a transfer moves a positive number of basis points", share_bps=bps)
    held = shares.get(from_member, 0)
    if held < bps:
        raise Conflict(
            f"member {from_member} holds {held} basis points and cannot transfer {bps}",
            member_id=str(from_member),
            held_bps=held,
            share_bps=bps,
        )
    result = dict(shares)
    result[from_member] = held - bps
    result[to_member] = result.get(to_member, 0) + bps
    return {m: v for m, v in result.items() if v > 0}


def shares_to_records(shares: Shares) -> list[dict[str, Any]]:
    """The event form (proto OwnerShare), in a stable order."""
    return [{"member_id": str(m), "share_bps": bps} for m, bps in sorted(shares.items(), key=lambda kv: str(kv[0]))]


def shares_from_records(records: Iterable[Mapping[str, Any]]) -> dict[uuid.UUID, int]:
    return {uuid.UUID(str(r["member_id"])): int(r["share_bps"]) for r in records}


@dataclass(frozen=True, slots=True)
class OwnershipPeriod:
    """Who owned what from `effective_from` until the next period starts."""

    effective_from: date
    shares: Mapping[uuid.UUID, int]
    cause: str  # "registration" | "transfer" | "assignment" (out of the membership: no shares)


def ownership_as_of(history: Iterable[OwnershipPeriod], day: date) -> dict[uuid.UUID, int]:
    """The confirmed shares in force on `day` (empty before ownership took effect)."""
    current: Mapping[uuid.UUID, int] = {}
    for period in history:
        if period.effective_from > day:
            break
        current = period.shares
    return dict(current)
