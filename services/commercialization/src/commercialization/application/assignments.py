"""Assignments: the sale of an asset, its co-owners' consents, and the share transfer it asks of the registry.

Once every co-owner consents the sale is agreed: the proceeds are invoiced on the
assignment's account and the ownership transfer is requested. The transfer dispatcher
carries each request to the IP registry (`transfer_requests_after`) and records its
answer here; a refusal credits the proceeds still awaited.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import NamedTuple, Protocol

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from commercialization.application.store import DealStore, money
from commercialization.domain.account import RevenueKind
from commercialization.domain.assignment import Assignment, AssignmentStatus, TransferOutcome
from commercialization.permissions import acting_member, ensure_reads_license, ensure_records_transfer_answers
from ipshare.eventstore import CommandContext
from ipshare_kernel.actor import Actor, Attribution
from ipshare_kernel.money import Money


class OwnershipTransfers(Protocol):
    """Carries out a requested transfer in the IP registry (idempotent by its request id)."""

    def transfer_ownership(
        self, requested: Assignment.OwnershipTransferRequested, caused_by: Actor | None = None
    ) -> TransferOutcome:
        """Carry out the request on behalf of `caused_by`; raises `TransferRefused` when the registry
        says no for good."""
        ...


class RequestedTransfer(NamedTuple):
    """An ownership transfer request, where it lies in the log, and who made it (its event's actor)."""

    position: int
    event: Assignment.OwnershipTransferRequested
    requested_by: Actor | None


class Assignments(DealStore):
    """The assignment use cases, and the log of transfer requests the dispatcher follows."""

    def propose_assignment(
        self,
        ctx: CommandContext,
        asset_id: uuid.UUID,
        assignee: str,
        proceeds: int,
        currency: str,
        *,
        assignee_member_id: uuid.UUID | None = None,
        proposed_by: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> uuid.UUID:
        """Sell an asset: every co-owner must consent; then proceeds are invoiced and the
        ownership transfer is requested from the IP registry."""
        day = effective_date or self.clock.today()
        assignment = Assignment.propose(
            asset_id=asset_id,
            assignee=assignee,
            proceeds=money(proceeds, currency),
            proposed_by=acting_member(ctx.principal, proposed_by),
            owners=self._owners_by_asset([asset_id], day)[asset_id],
            effective_date=day,
            assignee_member_id=assignee_member_id,
        )
        self._save(ctx, assignment, *self._on_agreed(assignment, day))
        return assignment.id

    def consent_to_assignment(
        self,
        ctx: CommandContext,
        assignment_id: uuid.UUID,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> AssignmentStatus:
        assignment = self._get(Assignment, assignment_id)
        day = effective_date or self.clock.today()
        assignment.consent(acting_member(ctx.principal, member_id), day)
        self._save(ctx, assignment, *self._on_agreed(assignment, day))
        return assignment.status

    def refuse_assignment(
        self,
        ctx: CommandContext,
        assignment_id: uuid.UUID,
        reason: str,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> None:
        assignment = self._get(Assignment, assignment_id)
        assignment.refuse(acting_member(ctx.principal, member_id), reason, effective_date or self.clock.today())
        self._save(ctx, assignment)

    def complete_ownership_transfer(
        self, ctx: CommandContext, assignment_id: uuid.UUID, outcome: TransferOutcome
    ) -> bool:
        """Record the IP registry's answer to the transfer request; False when already recorded."""
        ensure_records_transfer_answers(ctx.principal)
        assignment = self._get(Assignment, assignment_id)
        changed = assignment.complete_transfer(outcome)
        if changed:
            self._save(ctx, assignment)
        return changed

    def refuse_ownership_transfer(
        self, ctx: CommandContext, assignment_id: uuid.UUID, request_id: uuid.UUID, code: str, reason: str
    ) -> bool:
        """Record that the IP registry refused the transfer request (terminal); False when already recorded."""
        ensure_records_transfer_answers(ctx.principal)
        assignment = self._get(Assignment, assignment_id)
        day = self.clock.today()
        changed = assignment.refuse_transfer(request_id, code, reason, day)
        if changed:
            self._save(ctx, assignment, *self._on_transfer_refused(assignment, day))
        return changed

    def transfer_requests_after(self, position: int, limit: int) -> list[RequestedTransfer]:
        """Transfer requests recorded after a log position, with their positions and actors, oldest first."""
        topics = [get_topic(Assignment.OwnershipTransferRequested)]
        notifications = self.recorder.select_notifications(position, limit, topics=topics, inclusive_of_start=False)
        found = []
        for notification in notifications:
            requested, meta = self.metadata_mapper.decode(notification)
            assert isinstance(requested, Assignment.OwnershipTransferRequested)
            found.append(RequestedTransfer(notification.id, requested, Attribution.of(meta).actor))
        return found

    def get_assignment(self, ctx: CommandContext, assignment_id: uuid.UUID) -> Assignment:
        assignment = self._get(Assignment, assignment_id)
        ensure_reads_license(ctx.principal, assignment.owners)
        return assignment

    def _on_agreed(self, assignment: Assignment, day: date) -> list[Aggregate]:
        if assignment.status is not AssignmentStatus.AGREED or assignment.agreed_on != day:
            return []
        account = self._account(assignment.id, [assignment.asset_id])
        if assignment.proceeds.amount > 0 and not account.has_reference("assignment"):
            account.issue_invoice(RevenueKind.ASSIGNMENT, assignment.proceeds, day, 30, "assignment")
        return [account]

    def _on_transfer_refused(self, assignment: Assignment, day: date) -> list[Aggregate]:
        """The sale will not happen: a credit note clears what its invoice still awaits. (Proceeds
        already paid stay recorded as received: refunding them is finance's, outside the account.)"""
        account = self._existing_account(assignment.id)  # opened when the sale was agreed
        invoice_id = account.invoice_for("assignment")
        if invoice_id is None or account.invoices[invoice_id].open_amount <= 0:
            return []  # no proceeds, or paid already
        invoice = account.invoices[invoice_id]
        still_due = Money(invoice.open_amount, invoice.currency)
        reason = "transfer refused by the registry"
        account.issue_credit_note(RevenueKind.ASSIGNMENT, still_due, day, reason, invoice_id)
        return [account]
