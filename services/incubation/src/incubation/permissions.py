"""Who may do what in incubation: pure rules used by the application's use cases.

Incubator managers run spin-offs, projects, milestones and option plans; finance
records money going out (tranches released, proceeds distributed); auditors, finance,
admins and incubator managers read everything (the roles behind each permission are
`ipshare.permissions.GRANTS`). A member reads the spin-offs it holds
shares in or funds, and a researcher (a member token whose subject is the researcher
id) reads its own option grants.
"""

from __future__ import annotations

from collections.abc import Collection

from ipshare.auth import Principal, Role
from ipshare.permissions import Permission, may, own_member
from ipshare_kernel.errors import Forbidden


def reads_all(principal: Principal) -> bool:
    """Who runs incubation reads all of it, besides the roles that read everything."""
    return may(principal, Permission.READ_EVERYTHING) or may(principal, Permission.RUN_INCUBATION)


def _involved(principal: Principal, members_involved: Collection[str]) -> bool:
    member = own_member(principal)
    return member is not None and str(member) in members_involved


def check_may_read(principal: Principal, members_involved: Collection[str]) -> None:
    """Everything for the reading roles; a member only what it holds or funds."""
    if reads_all(principal):
        return
    if _involved(principal, members_involved):
        return
    raise Forbidden("members read only the spin-offs and projects they hold or fund", role=principal.role.value)


def check_may_submit_evidence(principal: Principal, members_involved: Collection[str]) -> None:
    """The team submits evidence through a member that funds or holds the project, or the incubator does."""
    if may(principal, Permission.RUN_INCUBATION) or _involved(principal, members_involved):
        return
    raise Forbidden("evidence comes from the incubator or a member involved in the project", role=principal.role.value)


def may_read_grant(principal: Principal, researcher_id: str, members_involved: Collection[str]) -> bool:
    if reads_all(principal) or _involved(principal, members_involved):
        return True
    return principal.role is Role.MEMBER and principal.subject == researcher_id  # the researcher's own
