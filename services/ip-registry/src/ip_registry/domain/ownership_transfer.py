"""Ownership transfers requested by other services, remembered by their request id.

Commercialization sends each agreed assignment until it hears back, so the same
request may arrive many times. The first one is carried out on the asset and
recorded here, in the same transaction; a repeat finds the record and gets the
same answer, storing nothing; another request under a used id is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from ip_registry.domain.ownership import Shares, shares_from_records, shares_to_records
from ipshare_kernel.errors import AlreadyExists, DomainError

NAMESPACE = uuid.UUID("9a51f0c4-2d7e-4e83-b6a2-51c0e7d93f28")


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """An assignment agreed elsewhere: the owners who agreed hand the asset to the assignee."""

    request_id: str
    asset_id: uuid.UUID
    from_owners: Mapping[uuid.UUID, int]
    assignee: str
    assignee_member_id: uuid.UUID | None  # None: a buyer outside the membership
    effective_date: date

    def __post_init__(self) -> None:
        if not self.request_id.strip():
            raise DomainError("a transfer request needs its request id")
        if not self.from_owners:
            raise DomainError("a transfer request names the owners who agreed to it")

    def as_event_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "asset_id": self.asset_id,
            "from_owners": shares_to_records(self.from_owners),
            "assignee": self.assignee.strip(),
            "assignee_member_id": str(self.assignee_member_id or ""),
            "effective_date": self.effective_date,
        }


class OwnershipTransfer(Aggregate):
    """The registry's record of one handled request, and what it left the ownership at."""

    class Recorded(Aggregate.Created):
        request_id: str
        asset_id: uuid.UUID
        from_owners: list[dict[str, Any]]
        assignee: str
        assignee_member_id: str
        effective_date: date
        owners: list[dict[str, Any]]  # in force from effective_date; empty: assigned out of the membership

    @staticmethod
    def create_id(request_id: str, **_: Any) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"ownership-transfer/{request_id}")

    @event(Recorded)
    def __init__(
        self,
        request_id: str,
        asset_id: uuid.UUID,
        from_owners: list[dict[str, Any]],
        assignee: str,
        assignee_member_id: str,
        effective_date: date,
        owners: list[dict[str, Any]],
    ) -> None:
        self.request = {
            "request_id": request_id,
            "asset_id": asset_id,
            "from_owners": from_owners,
            "assignee": assignee,
            "assignee_member_id": assignee_member_id,
            "effective_date": effective_date,
        }
        self.request_id = request_id
        self.asset_id = asset_id
        self.effective_date = effective_date
        self.owners: dict[uuid.UUID, int] = shares_from_records(owners)

    @classmethod
    def record(cls, request: TransferRequest, owners_after: Shares) -> OwnershipTransfer:
        return cls(**request.as_event_dict(), owners=shares_to_records(owners_after))

    @property
    def assigned_out(self) -> bool:
        return not self.owners

    def replay(self, request: TransferRequest) -> OwnershipTransfer:
        """The same request again gets this record; another one under the same id is refused."""
        if request.as_event_dict() != self.request:
            raise AlreadyExists(
                "the request id was already used for another transfer",
                request_id=self.request_id,
                asset_id=str(self.asset_id),
            )
        return self
