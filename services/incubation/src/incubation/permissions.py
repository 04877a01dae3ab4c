"""Who may do what in incubation: pure rules used by the application's use cases.

Incubator managers run spin-offs, projects, milestones and option plans; finance
records money going out (tranches released, proceeds distributed); auditors, finance,
admins and incubator managers read everything. A member reads the spin-offs it holds
shares in or funds, and a researcher (a member token whose subject is the researcher
id) reads its own option grants.
"""

from __future__ import annotations

from collections.abc import Collection

from ipshare.auth import Principal, Role
from ipshare_kernel.errors import Forbidden

_RUNS = frozenset({Role.INCUBATOR, Role.ADMIN})
_PAYS = frozenset({Role.FINANCE, Role.ADMIN})


def check_runs_incubation(principal: Principal, action: str) -> None:
    if principal.role not in _RUNS:
        raise Forbidden(f"only an incubator manager may {action}", role=principal.role.value)


def check_records_payments(principal: Principal, action: str) -> None:
    if principal.role not in _PAYS:
        raise Forbidden(f"only finance may {action}", role=principal.role.value)


def reads_all(principal: Principal) -> bool:
    return principal.reads_everything or principal.role is Role.INCUBATOR


def check_may_read(principal: Principal, members_involved: Collection[str]) -> None:
    """Everything for the reading roles; a member only what it holds or funds."""
    if reads_all(principal):
        return
    if principal.role is Role.MEMBER and str(principal.member_id) in members_involved:
        return
    raise Forbidden("members read only the spin-offs and projects they hold or fund", role=principal.role.value)


def check_may_submit_evidence(principal: Principal, members_involved: Collection[str]) -> None:
    """The team submits evidence through a member that funds or holds the project, or the incubator does."""
    if principal.role in _RUNS:
        return
    if principal.role is Role.MEMBER and str(principal.member_id) in members_involved:
        return
    raise Forbidden("evidence comes from the incubator or a member involved in the project", role=principal.role.value)


def may_read_grant(principal: Principal, researcher_id: str, members_involved: Collection[str]) -> bool:
    if reads_all(principal):
        return True
    return principal.role is Role.MEMBER and (
        principal.subject == researcher_id or str(principal.member_id) in members_involved
    )
