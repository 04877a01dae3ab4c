"""Who may do what in commercialization: pure rules used by the application's use cases.

Finance (and admins, and ipshare services) keep the books; finance, auditors and admins
read across licenses; a member acts for itself, and an admin names the member it acts for.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from ipshare.auth import Principal, Role
from ipshare_kernel.errors import DomainError, Forbidden

_BOOKKEEPERS = frozenset({Role.FINANCE, Role.ADMIN, Role.SERVICE})
# A service's own credentials act for no member: only a person (an admin) speaks for one.
_ACTS_FOR_MEMBERS = frozenset({Role.ADMIN})
_RECORDS_TRANSFER_ANSWERS = frozenset({Role.ADMIN, Role.SERVICE})


def keeps_books(principal: Principal) -> bool:
    return principal.role in _BOOKKEEPERS


def ensure_finance(principal: Principal) -> None:
    """Payments, invoices and true-ups are finance's to record."""
    if not keeps_books(principal):
        raise Forbidden("only finance records payments and invoices", role=principal.role)


def ensure_reads_everything(principal: Principal) -> None:
    if not principal.reads_everything:
        raise Forbidden("only finance, auditors and administrators read across licenses", role=principal.role)


def ensure_reads_license(principal: Principal, owners: Collection[uuid.UUID]) -> None:
    """Members read the deals of the assets they own (`member_reads`); finance, auditors and admins
    read everything, whoever owns the assets now (even nobody, after a sale outside the membership)."""
    if principal.reads_everything:
        return
    if principal.role is Role.MEMBER and principal.member_id in owners:
        return
    raise Forbidden("members read only licenses on assets they own", role=principal.role)


def ensure_submits_reports(principal: Principal, owners: Collection[uuid.UUID]) -> None:
    """Licensee reports come through finance, or through an owning member on the licensee's behalf."""
    if keeps_books(principal):
        return
    if principal.role is Role.MEMBER and principal.member_id in owners:
        return
    raise Forbidden("reports are submitted by finance or by a member owning the licensed assets", role=principal.role)


def ensure_records_transfer_answers(principal: Principal) -> None:
    """The IP registry's answer to a transfer request is recorded by the transfer dispatcher (or an admin)."""
    if principal.role not in _RECORDS_TRANSFER_ANSWERS:
        raise Forbidden("only the transfer dispatcher records the registry's answer", role=principal.role)


def acting_member(principal: Principal, member_id: uuid.UUID | None = None) -> uuid.UUID:
    """The member a command speaks for: a member speaks for itself; an admin names one."""
    if principal.role is Role.MEMBER:
        assert principal.member_id is not None  # tokens guarantee it
        if member_id is not None and member_id != principal.member_id:
            raise Forbidden("a member acts only for itself", member_id=str(member_id))
        return principal.member_id
    if principal.role in _ACTS_FOR_MEMBERS and member_id is not None:
        return member_id
    if principal.role in _ACTS_FOR_MEMBERS:
        raise DomainError("name the member this command is on behalf of")
    raise Forbidden("only members (or administrators on their behalf) act as owners", role=principal.role)
