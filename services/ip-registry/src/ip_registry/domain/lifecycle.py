"""The lifecycle of an IP asset: an explicit state machine.

disclosed -> filed -> published -> granted -> lapsed | abandoned | expired | invalidated,
with the legal shortcuts: an application may be abandoned (or deemed withdrawn) at any
stage, utility models and designs are granted without publication, and a granted right
may be waived (abandoned).
"""

from __future__ import annotations

from enum import StrEnum

from ipshare_kernel.errors import Conflict, DomainError


class AssetStatus(StrEnum):
    DISCLOSED = "disclosed"
    FILED = "filed"
    PUBLISHED = "published"
    GRANTED = "granted"
    LAPSED = "lapsed"
    ABANDONED = "abandoned"
    EXPIRED = "expired"
    INVALIDATED = "invalidated"


S = AssetStatus
TRANSITIONS: dict[AssetStatus, frozenset[AssetStatus]] = {
    S.DISCLOSED: frozenset({S.FILED, S.ABANDONED}),
    S.FILED: frozenset({S.PUBLISHED, S.GRANTED, S.ABANDONED}),
    S.PUBLISHED: frozenset({S.GRANTED, S.ABANDONED}),
    S.GRANTED: frozenset({S.LAPSED, S.ABANDONED, S.EXPIRED, S.INVALIDATED}),
    S.LAPSED: frozenset(),
    S.ABANDONED: frozenset(),
    S.EXPIRED: frozenset(),
    S.INVALIDATED: frozenset(),
}
TERMINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
# In the portfolio (pending or in force), as opposed to ended.
LIVE = frozenset(AssetStatus) - TERMINAL
# Stages reached once an asset is in `status` (a granted patent was also filed).
REACHED: dict[AssetStatus, frozenset[AssetStatus]] = {
    S.DISCLOSED: frozenset({S.DISCLOSED}),
    S.FILED: frozenset({S.DISCLOSED, S.FILED}),
    S.PUBLISHED: frozenset({S.DISCLOSED, S.FILED, S.PUBLISHED}),
    S.GRANTED: frozenset({S.DISCLOSED, S.FILED, S.GRANTED}),
}


def parse_status(status: str) -> AssetStatus:
    try:
        return AssetStatus(status)
    except ValueError:
        raise DomainError(
            f"unknown asset status {status!r}", status=status, allowed=[s.value for s in AssetStatus]
        ) from None


def check_transition(current: AssetStatus, target: AssetStatus) -> None:
    if target not in TRANSITIONS[current]:
        allowed = sorted(t.value for t in TRANSITIONS[current])
        raise Conflict(
            f"an asset in state {current.value} cannot become {target.value}",
            state=current.value,
            target=target.value,
            allowed=allowed,
        )
