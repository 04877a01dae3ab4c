"""A cap table as a list of dated movements: holdings as of any date, fully diluted ownership.

Pure: the `SpinOff` aggregate keeps the movements and asks this module before it
accepts a new one. A movement may be backdated, so it is checked against every
later date too: no holding is ever negative, no class exceeds its authorized shares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from ipshare_kernel.errors import Conflict, DomainError

Holder = tuple[str, str]  # (kind: member | researcher | investor | other, id)
Position = tuple[Holder, str]  # (holder, share class)
MOVEMENT_KINDS = ("issuance", "transfer", "repurchase", "cancellation", "exercise")


@dataclass(frozen=True, slots=True)
class Movement:
    """Shares of one class moving on a day: from `source` (None: newly issued) to `target` (None: gone)."""

    sequence: int
    day: date
    share_class: str
    quantity: int
    source: Holder | None
    target: Holder | None
    kind: str  # one of MOVEMENT_KINDS


def holdings(movements: Iterable[Movement], as_of: date) -> dict[Position, int]:
    held: dict[Position, int] = {}
    for m in sorted(movements, key=lambda m: (m.day, m.sequence)):
        if m.day > as_of:
            break
        if m.source is not None:
            held[(m.source, m.share_class)] = held.get((m.source, m.share_class), 0) - m.quantity
        if m.target is not None:
            held[(m.target, m.share_class)] = held.get((m.target, m.share_class), 0) + m.quantity
    return {p: q for p, q in held.items() if q}


def issued(movements: Iterable[Movement], share_class: str, as_of: date) -> int:
    return sum(q for (_, cls), q in holdings(movements, as_of).items() if cls == share_class)


Capacity = Callable[[str, date], int]  # (share class, day) -> shares that may be outstanding then


def check_movement(existing: list[Movement], new: Movement, authorized: Mapping[str, int], capacity: Capacity) -> None:
    """Raise unless the cap table stays valid on the new movement's day and every later one."""
    if new.quantity <= 0:
        raise DomainError("a movement of shares is for a positive quantity", quantity=new.quantity)
    if new.share_class not in authorized:
        raise DomainError(f"no share class {new.share_class!r}", share_classes=sorted(authorized))
    after = [*existing, new]
    for day in sorted({new.day, *(m.day for m in existing if m.day > new.day)}):
        table = holdings(after, day)
        short = [(h, q) for (h, cls), q in table.items() if q < 0 and cls == new.share_class]
        if short:
            (kind, holder_id), quantity = short[0]
            raise Conflict(
                f"{kind} {holder_id} would hold {quantity} {new.share_class} shares on {day.isoformat()}",
                holder=holder_id, share_class=new.share_class, day=day.isoformat(),
            )  # fmt: skip
        total = sum(q for (_, cls), q in table.items() if cls == new.share_class)
        if total > (room := capacity(new.share_class, day)):
            raise Conflict(
                f"{new.share_class} shares would exceed the {authorized[new.share_class]} authorized "
                f"(less the option pools) on {day.isoformat()}",
                issued=total, available=room, authorized=authorized[new.share_class], day=day.isoformat(),
            )  # fmt: skip


@dataclass(frozen=True, slots=True)
class DilutedLine:
    holder: Holder | None  # None: the unallocated option pool
    shares: int
    options: int

    @property
    def total(self) -> int:
        return self.shares + self.options


def fully_diluted(
    shares: Mapping[Position, int], options: Mapping[Holder, int], pool_unallocated: int
) -> list[DilutedLine]:
    """Outstanding shares, outstanding options and the pool not yet granted, per holder."""
    by_holder: dict[Holder, int] = {}
    for (holder, _), quantity in shares.items():
        by_holder[holder] = by_holder.get(holder, 0) + quantity
    holders = sorted(by_holder.keys() | {h for h, q in options.items() if q})
    lines = [DilutedLine(h, by_holder.get(h, 0), options.get(h, 0)) for h in holders]
    if pool_unallocated:
        lines.append(DilutedLine(None, 0, pool_unallocated))
    return lines
