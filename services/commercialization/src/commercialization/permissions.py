"""Who may do what in commercialization: pure rules used by the application's use cases.

Finance (and admins, and ipshare services) keep the books; finance, auditors and admins
read across licenses; a member acts for itself, and an admin names the member it acts for.
The roles behind each permission are `ipshare.permissions.GRANTS`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from ipshare.auth import Principal, Role
from ipshare.permissions import Permission, acts_for_one_of, may
from ipshare_kernel.errors import DomainError, Forbidden


def ensure_finance(principal: Principal) -> None:
    """Payments, invoices and true-ups are finance's to record."""
    if not may(principal, Permission.KEEP_BOOKS):
        raise Forbidden("only finance records payments and invoices", role=principal.role)


def ensure_reads_everything(principal: Principal) -> None:
    if not may(principal, Permission.READ_EVERYTHING):
        raise Forbidden("only finance, auditors and administrators read across licenses", role=principal.role)


def ensure_reads_license(principal: Principal, owners: Collection[uuid.UUID]) -> None:
    """Members read the deals of the assets they own (`member_reads`); finance, auditors and admins
    read everything, whoever owns the assets now (even nobody, after a sale outside the membership)."""
    if may(principal, Permission.READ_EVERYTHING) or acts_for_one_of(principal, owners):
        return
    raise Forbidden("members read only licenses on assets they own", role=principal.role)


def ensure_submits_reports(principal: Principal, owners: Collection[uuid.UUID]) -> None:
    """Licensee reports come through finance, or through an owning member on the licensee's behalf."""
    if may(principal, Permission.KEEP_BOOKS) or acts_for_one_of(principal, owners):
        return
    raise Forbidden("reports are submitted by finance or by a member owning the licensed assets", role=principal.role)


def ensure_records_transfer_answers(principal: Principal) -> None:
    """The IP registry's answer to a transfer request is recorded by the transfer dispatcher (or an admin)."""
    if not may(principal, Permission.RECORD_TRANSFERS):
        raise Forbidden("only the transfer dispatcher records the registry's answer", role=principal.role)


def acting_member(principal: Principal, member_id: uuid.UUID | None = None) -> uuid.UUID:
    """The member a command speaks for: a member speaks for itself; an admin names one."""
    if principal.role is Role.MEMBER:
        assert principal.member_id is not None  # tokens guarantee it
        if member_id is not None and member_id != principal.member_id:
            raise Forbidden("a member acts only for itself", member_id=str(member_id))
        return principal.member_id
    if may(principal, Permission.ACT_FOR_ANY_MEMBER) and member_id is not None:
        return member_id
    if may(principal, Permission.ACT_FOR_ANY_MEMBER):
        raise DomainError("name the member this command is on behalf of")
    raise Forbidden("only members (or administrators on their behalf) act as owners", role=principal.role)
