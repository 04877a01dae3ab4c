"""Who owns an asset, as the use cases ask it: the ports the ownership adapters fill."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Protocol

from ipshare_kernel.errors import NotFound


class OwnershipLookup(Protocol):
    """Who owned an asset on a day: member id -> share in basis points (empty: no owners that day)."""

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]: ...


class OwnershipRecord(OwnershipLookup, Protocol):
    """Ownership over time: also every member that held a share on some day of a span."""

    def owners_during(self, asset_id: uuid.UUID, start: date, end: date) -> set[uuid.UUID]: ...


class PointInTimeOwnership:
    """An `OwnershipRecord` over a lookup that only answers "as of a day": a span's owners are
    those on its first and last day (exact for owners that do not change meanwhile)."""

    def __init__(self, lookup: OwnershipLookup) -> None:
        self.lookup = lookup

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        return self.lookup.owners_as_of(asset_id, as_of)

    def owners_during(self, asset_id: uuid.UUID, start: date, end: date) -> set[uuid.UUID]:
        found: set[uuid.UUID] = set()
        for day in {start, end} if start <= end else set():
            with contextlib.suppress(NotFound):  # an asset the registry does not know has no owners
                found.update(m for m, share in self.lookup.owners_as_of(asset_id, day).items() if share > 0)
        return found
