"""Who may do what: pure rules shared by every entrypoint and the application.

A member acts for itself only; admins run the membership and act for any member; auditors
and finance read everything; ipshare services read and record the transfers other services
agreed. The roles behind each permission are `ipshare.permissions.GRANTS`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from ipshare.auth import Principal
from ipshare.permissions import Permission, acts_for, acts_for_one_of, may
from ipshare_kernel.errors import Forbidden


def check_may_register(principal: Principal, registered_by: uuid.UUID, owners: Collection[uuid.UUID]) -> None:
    """A member registers assets in its own name, naming itself among the owners."""
    if may(principal, Permission.ACT_FOR_ANY_MEMBER):
        return
    if not acts_for(principal, registered_by):
        raise Forbidden("a member registers assets in its own name only", registered_by=str(registered_by))
    if registered_by not in owners:
        raise Forbidden("a member registers assets naming itself as an owner", registered_by=str(registered_by))


def check_may_answer(principal: Principal, member_id: uuid.UUID) -> None:
    """Confirming or declining a co-ownership is the co-owner's own act."""
    if not acts_for(principal, member_id):
        raise Forbidden("only the named member may confirm or decline its co-ownership", member_id=str(member_id))


def check_may_manage_asset(principal: Principal, members: Collection[uuid.UUID]) -> None:
    """Lifecycle, costs, inventors, tags: an admin or a member that owns (or is named to own) the asset."""
    if may(principal, Permission.ACT_FOR_ANY_MEMBER) or acts_for_one_of(principal, members):
        return
    raise Forbidden("only an owner of the asset or an admin may change it", role=principal.role.value)


def check_may_transfer(principal: Principal) -> None:
    """Transfers need every co-owner's consent, gathered elsewhere: admins and services record them."""
    if not may(principal, Permission.RECORD_TRANSFERS):
        raise Forbidden("only an admin or an ipshare service records share transfers", role=principal.role.value)


def check_may_manage_researchers(principal: Principal, member_id: uuid.UUID) -> None:
    if may(principal, Permission.ACT_FOR_ANY_MEMBER) or acts_for(principal, member_id):
        return
    raise Forbidden("a member manages its own researchers only", member_id=str(member_id))


def check_may_move_researcher(principal: Principal, leaving: uuid.UUID) -> None:
    """A researcher leaves a member only with its consent: that member records the move, or an admin
    does. The member it joins cannot: it would take another member's researcher (and its records)."""
    if may(principal, Permission.ACT_FOR_ANY_MEMBER) or acts_for(principal, leaving):
        return
    raise Forbidden("only the member the researcher leaves, or an admin, records the move", member_id=str(leaving))


def may_read_asset(principal: Principal, members: Collection[uuid.UUID]) -> bool:
    """Readers of everything, and the members that own, co-own or are named to own it."""
    return may(principal, Permission.READ_EVERYTHING) or acts_for_one_of(principal, members)


def check_may_read_asset(principal: Principal, members: Collection[uuid.UUID]) -> None:
    if may_read_asset(principal, members):
        return
    raise Forbidden("a member reads only the assets it owns or co-owns", role=principal.role.value)


def check_may_read_member(principal: Principal, member_id: uuid.UUID) -> None:
    if may(principal, Permission.READ_EVERYTHING) or acts_for(principal, member_id):
        return
    raise Forbidden("a member reads only its own records", member_id=str(member_id))
