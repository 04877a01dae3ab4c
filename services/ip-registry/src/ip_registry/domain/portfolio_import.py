"""Imported portfolio files, remembered by their content.

A file is imported in one transaction with this record of it, so a crash leaves neither.
The record's id is derived from the file's SHA-256: the same file sent again finds it and
gets the first import's report, storing nothing; two identical files sent at once cannot
both be stored (the second transaction collides with the first record and stores nothing).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("4e0c8a55-7f61-4d0e-9a3b-2c6f1d8b7e90")


def file_sha256(text: str) -> str:
    """The file's digest, over its text as UTF-8 (what the import parsed)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PortfolioImport(Aggregate):
    """One imported file: its digest and what it registered, in line order."""

    class Recorded(Aggregate.Created):
        sha256: str
        asset_ids: list[str]
        researcher_ids: list[str]

    @staticmethod
    def create_id(sha256: str, **_: Any) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"portfolio-import/{sha256}")

    @event(Recorded)
    def __init__(self, sha256: str, asset_ids: list[str], researcher_ids: list[str]) -> None:
        self.sha256 = sha256
        self.asset_ids = [uuid.UUID(a) for a in asset_ids]
        self.researcher_ids = [uuid.UUID(r) for r in researcher_ids]

    @classmethod
    def record(
        cls, sha256: str, asset_ids: Sequence[uuid.UUID], researcher_ids: Sequence[uuid.UUID]
    ) -> PortfolioImport:
        return cls(sha256, [a.hex for a in asset_ids], [r.hex for r in researcher_ids])

    @property
    def imported(self) -> int:
        return len(self.asset_ids)
