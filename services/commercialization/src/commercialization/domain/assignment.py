"""Assignment (sale) of an asset: every co-owner consents, then the proceeds are
invoiced and the ownership transfer is requested from the IP registry.

The request is a fact recorded here with a deterministic id; sending it to the
registry (retried until acknowledged, idempotent by that id) is another process,
which records the registry's answer here: `OwnershipTransferCompleted`, or
`OwnershipTransferRefused` when the registry judged the request and said no (the
owners changed, the buyer is no member...). A refusal is terminal: asking again
would get the same answer, so the assignment waits for a person (finance sees the
reason) and the requests after it go ahead.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event

from commercialization.domain.license import NAMESPACE, Owners, check_co_owner, every_owner
from ipshare_kernel.errors import Conflict, DomainError, Forbidden
from ipshare_kernel.money import Money


class AssignmentStatus(StrEnum):
    PENDING_CONSENT = "pending_consent"
    AGREED = "agreed"
    REFUSED = "refused"
    TRANSFERRED = "transferred"  # the IP registry carried out the ownership transfer
    TRANSFER_REFUSED = "transfer_refused"  # the IP registry refused it: terminal, for a person to resolve


class TransferStatus(StrEnum):
    """Where the ownership transfer of an assignment stands, as finance sees it."""

    NOT_REQUESTED = "not_requested"  # consent pending, or refused by a co-owner
    PENDING = "pending"  # requested; the dispatcher is (re)trying the registry
    COMPLETED = "completed"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    """What the IP registry answered to a transfer request."""

    request_id: uuid.UUID
    owners: Mapping[uuid.UUID, int]  # in force from effective_date; empty: no member owns the asset any more
    effective_date: date

    @property
    def assigned_out(self) -> bool:
        return not self.owners


def _share_records(owners: Mapping[uuid.UUID, int]) -> list[dict[str, Any]]:
    return [{"member_id": str(m), "share_bps": s} for m, s in sorted(owners.items(), key=lambda p: str(p[0]))]


class Assignment(Aggregate):
    class Proposed(Aggregate.Created):
        asset_id: uuid.UUID
        assignee: str
        assignee_member_id: str  # when the buyer is a member; else empty
        proceeds: dict[str, Any]
        proposed_by: uuid.UUID
        owners: list[dict[str, Any]]  # the owners (member id, share) the consent is asked of
        effective_date: date

    class ConsentGiven(Aggregate.Event):
        member_id: uuid.UUID
        effective_date: date

    class ConsentRefused(Aggregate.Event):
        member_id: uuid.UUID
        reason: str
        effective_date: date

    class Agreed(Aggregate.Event):
        asset_id: uuid.UUID
        assignee: str
        assignee_member_id: str
        proceeds: dict[str, Any]
        effective_date: date

    class OwnershipTransferRequested(Aggregate.Event):
        request_id: uuid.UUID
        asset_id: uuid.UUID
        from_owners: list[dict[str, Any]]
        assignee: str
        assignee_member_id: str
        effective_date: date

    class OwnershipTransferCompleted(Aggregate.Event):
        request_id: uuid.UUID
        asset_id: uuid.UUID
        owners: list[dict[str, Any]]  # in force from effective_date; empty: assigned out of the membership
        assigned_out: bool
        effective_date: date

    class OwnershipTransferRefused(Aggregate.Event):
        request_id: uuid.UUID
        asset_id: uuid.UUID
        reason: str  # the registry's own words
        code: str  # the registry's gRPC status, e.g. FAILED_PRECONDITION
        effective_date: date  # the day the refusal was recorded

    @event(Proposed)
    def __init__(
        self,
        asset_id: uuid.UUID,
        assignee: str,
        assignee_member_id: str,
        proceeds: dict[str, Any],
        proposed_by: uuid.UUID,
        owners: list[dict[str, Any]],
        effective_date: date,
    ) -> None:
        self.asset_id = asset_id
        self.assignee = assignee
        self.assignee_member_id = assignee_member_id
        self.proceeds = Money(proceeds["amount"], proceeds["currency"])
        self.proposed_by = proposed_by
        self.owners = {uuid.UUID(str(o["member_id"])): int(o["share_bps"]) for o in owners}
        self.consents: set[uuid.UUID] = set()
        self.status = AssignmentStatus.PENDING_CONSENT
        self.agreed_on: date | None = None
        self.transfer_requested_on: date | None = None
        self.transfer_completed_on: date | None = None
        self.transfer_refused_on: date | None = None
        self.transfer_refusal: tuple[str, str] | None = None  # (code, reason) from the registry

    @classmethod
    def propose(
        cls,
        *,
        asset_id: uuid.UUID,
        assignee: str,
        proceeds: Money,
        proposed_by: uuid.UUID,
        owners: Owners,
        effective_date: date,
        assignee_member_id: uuid.UUID | None = None,
    ) -> Assignment:
        if not assignee.strip():
            raise DomainError("an assignment names the assignee")
        if proceeds.amount < 0:
            raise DomainError("proceeds cannot be negative")
        check_co_owner(proposed_by, {asset_id: owners})
        assignment = cls(
            asset_id=asset_id,
            assignee=assignee.strip(),
            assignee_member_id=str(assignee_member_id or ""),
            proceeds={"amount": proceeds.amount, "currency": proceeds.currency},
            proposed_by=proposed_by,
            owners=[{"member_id": str(m), "share_bps": s} for m, s in sorted(owners.items(), key=lambda p: str(p[0]))],
            effective_date=effective_date,
        )
        assignment.consent(proposed_by, effective_date)
        return assignment

    @property
    def request_id(self) -> uuid.UUID:
        """Idempotency key of the transfer command sent to the IP registry."""
        return uuid.uuid5(NAMESPACE, f"ownership-transfer/{self.id}")

    @property
    def missing_consents(self) -> list[uuid.UUID]:
        return [m for m in every_owner({self.asset_id: self.owners}) if m not in self.consents]

    def consent(self, member_id: uuid.UUID, effective_date: date) -> None:
        self._require_pending()
        if member_id not in self.owners:
            raise Forbidden("only a co-owner of the asset consents to its assignment", member_id=str(member_id))
        if member_id in self.consents:
            return
        self._consent_given(member_id=member_id, effective_date=effective_date)
        if not self.missing_consents:
            self._agree(effective_date)

    def refuse(self, member_id: uuid.UUID, reason: str, effective_date: date) -> None:
        self._require_pending()
        if member_id not in self.owners:
            raise Forbidden("only a co-owner of the asset may refuse its assignment", member_id=str(member_id))
        self._consent_refused(member_id=member_id, reason=reason, effective_date=effective_date)

    def complete_transfer(self, outcome: TransferOutcome) -> bool:
        """Record the registry's answer; False when it is already recorded (a re-delivery)."""
        if self.status is AssignmentStatus.TRANSFERRED:
            return False
        self._require_agreed(outcome.request_id)
        self._transfer_completed(
            request_id=outcome.request_id,
            asset_id=self.asset_id,
            owners=_share_records(outcome.owners),
            assigned_out=outcome.assigned_out,
            effective_date=outcome.effective_date,
        )
        return True

    def refuse_transfer(self, request_id: uuid.UUID, code: str, reason: str, on: date) -> bool:
        """Record that the registry refused the request; False when already recorded (a re-delivery)."""
        if self.status is AssignmentStatus.TRANSFER_REFUSED:
            return False
        self._require_agreed(request_id)
        self._transfer_refused(
            request_id=request_id, asset_id=self.asset_id, reason=reason, code=code, effective_date=on
        )
        return True

    @property
    def transfer_status(self) -> TransferStatus:
        match self.status:
            case AssignmentStatus.TRANSFERRED:
                return TransferStatus.COMPLETED
            case AssignmentStatus.TRANSFER_REFUSED:
                return TransferStatus.REFUSED
            case AssignmentStatus.AGREED:
                return TransferStatus.PENDING
        return TransferStatus.NOT_REQUESTED

    def _require_agreed(self, request_id: uuid.UUID) -> None:
        if self.status is not AssignmentStatus.AGREED:
            raise Conflict(f"the assignment is {self.status}", assignment_id=str(self.id), status=self.status)
        if request_id != self.request_id:
            raise Conflict("the answer is to another transfer request", request_id=str(request_id))

    def _require_pending(self) -> None:
        if self.status is not AssignmentStatus.PENDING_CONSENT:
            raise Conflict(f"the assignment is {self.status}", assignment_id=str(self.id), status=self.status)

    def _agree(self, effective_date: date) -> None:
        proceeds = {"amount": self.proceeds.amount, "currency": self.proceeds.currency}
        self._agreed(
            asset_id=self.asset_id,
            assignee=self.assignee,
            assignee_member_id=self.assignee_member_id,
            proceeds=proceeds,
            effective_date=effective_date,
        )
        self._transfer_requested(
            request_id=self.request_id,
            asset_id=self.asset_id,
            from_owners=_share_records(self.owners),
            assignee=self.assignee,
            assignee_member_id=self.assignee_member_id,
            effective_date=effective_date,
        )

    @event(ConsentGiven)
    def _consent_given(self, member_id: uuid.UUID, effective_date: date) -> None:
        self.consents.add(member_id)

    @event(ConsentRefused)
    def _consent_refused(self, member_id: uuid.UUID, reason: str, effective_date: date) -> None:
        self.status = AssignmentStatus.REFUSED

    @event(Agreed)
    def _agreed(
        self,
        asset_id: uuid.UUID,
        assignee: str,
        assignee_member_id: str,
        proceeds: dict[str, Any],
        effective_date: date,
    ) -> None:
        self.status = AssignmentStatus.AGREED
        self.agreed_on = effective_date

    @event(OwnershipTransferRequested)
    def _transfer_requested(
        self,
        request_id: uuid.UUID,
        asset_id: uuid.UUID,
        from_owners: list[dict[str, Any]],
        assignee: str,
        assignee_member_id: str,
        effective_date: date,
    ) -> None:
        self.transfer_requested_on = effective_date

    @event(OwnershipTransferCompleted)
    def _transfer_completed(
        self,
        request_id: uuid.UUID,
        asset_id: uuid.UUID,
        owners: list[dict[str, Any]],
        assigned_out: bool,
        effective_date: date,
    ) -> None:
        self.status = AssignmentStatus.TRANSFERRED
        self.transfer_completed_on = effective_date

    @event(OwnershipTransferRefused)
    def _transfer_refused(
        self, request_id: uuid.UUID, asset_id: uuid.UUID, reason: str, code: str, effective_date: date
    ) -> None:
        self.status = AssignmentStatus.TRANSFER_REFUSED
        self.transfer_refused_on = effective_date
        self.transfer_refusal = (code, reason)
