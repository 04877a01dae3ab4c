"""Who may do what, in one vocabulary for every service.

A role holds named permissions (`GRANTS`, one table); a service asks `may` or `require` for a
permission, never for a role. The rules that depend on the records — a member acts for itself
only, reads what it owns, answers for its own co-ownership — stay in each service, written with
`acts_for` and the permissions here. A member holds no permission: everything it may do is such a
rule. A service's credentials (`Role.SERVICE`) act for no member and are refused on every HTTP
route (`ipshare.web.current_principal`); they count on gRPC and for in-process principals.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ipshare.auth import Principal, Role
from ipshare_kernel.errors import Forbidden


class Permission(StrEnum):
    READ_EVERYTHING = "read_everything"  # every record of a service, whoever owns it
    READ_AUDIT_LOG = "read_audit_log"  # a service's audit log, checkpoints and history
    MANAGE_MEMBERSHIP = "manage_membership"  # admit, suspend and reinstate members
    ACT_FOR_ANY_MEMBER = "act_for_any_member"  # name the member a command is on behalf of; import portfolios
    RECORD_TRANSFERS = "record_transfers"  # carry out ownership transfers agreed elsewhere, record their answers
    KEEP_BOOKS = "keep_books"  # royalty reports, invoices, payments, true-ups
    SETTLE_PERIODS = "settle_periods"  # open and close settlement periods
    SET_DISTRIBUTION_POLICY = "set_distribution_policy"  # the center's and the members' distribution policies
    RUN_INCUBATION = "run_incubation"  # spin-offs, cap tables, seed projects, milestones, option plans
    PAY_OUT = "pay_out"  # money going out of incubation: tranches released, proceeds distributed
    HANDLE_PARKED_EVENTS = "handle_parked_events"  # the events the relay could not publish, and retrying them


# fmt: off
GRANTS: Final[Mapping[Permission, frozenset[Role]]] = MappingProxyType({
    Permission.READ_EVERYTHING:         frozenset({Role.FINANCE, Role.AUDITOR, Role.ADMIN, Role.SERVICE}),
    Permission.READ_AUDIT_LOG:          frozenset({Role.AUDITOR, Role.ADMIN}),
    Permission.MANAGE_MEMBERSHIP:       frozenset({Role.ADMIN}),
    # A service's own credentials act for no member: only a person (an admin) speaks for one.
    Permission.ACT_FOR_ANY_MEMBER:      frozenset({Role.ADMIN}),
    Permission.RECORD_TRANSFERS:        frozenset({Role.ADMIN, Role.SERVICE}),
    Permission.KEEP_BOOKS:              frozenset({Role.FINANCE, Role.ADMIN, Role.SERVICE}),
    Permission.SETTLE_PERIODS:          frozenset({Role.FINANCE, Role.ADMIN}),
    Permission.SET_DISTRIBUTION_POLICY: frozenset({Role.ADMIN}),
    Permission.RUN_INCUBATION:          frozenset({Role.INCUBATOR, Role.ADMIN}),
    Permission.PAY_OUT:                 frozenset({Role.FINANCE, Role.ADMIN}),
    Permission.HANDLE_PARKED_EVENTS:    frozenset({Role.ADMIN}),
})

# How a refusal names the holders ("only finance may ..."): the main one, as admins hold nearly all.
HOLDERS_NAMED: Final[Mapping[Permission, str]] = MappingProxyType({
    Permission.READ_EVERYTHING:         "an auditor",
    Permission.READ_AUDIT_LOG:          "an auditor",
    Permission.MANAGE_MEMBERSHIP:       "an admin",
    Permission.ACT_FOR_ANY_MEMBER:      "an admin",
    Permission.RECORD_TRANSFERS:        "an admin",
    Permission.KEEP_BOOKS:              "finance",
    Permission.SETTLE_PERIODS:          "finance",
    Permission.SET_DISTRIBUTION_POLICY: "an admin",
    Permission.RUN_INCUBATION:          "an incubator manager",
    Permission.PAY_OUT:                 "finance",
    Permission.HANDLE_PARKED_EVENTS:    "an admin",
})
# fmt: on


def may(principal: Principal, permission: Permission) -> bool:
    return principal.role in GRANTS[permission]


def require(principal: Principal, permission: Permission, action: str) -> None:
    """Forbidden ("only finance may close settlement periods", naming the caller's role) unless it may."""
    if not may(principal, permission):
        raise Forbidden(f"only {HOLDERS_NAMED[permission]} may {action}", role=principal.role.value)


def holders(permission: Permission) -> tuple[Role, ...]:
    """The roles holding a permission, in `Role`'s order (for a dependency that admits roles)."""
    return tuple(role for role in Role if role in GRANTS[permission])


def acts_for(principal: Principal, member_id: uuid.UUID) -> bool:
    """A member's token acting for this member (an admin's token may name a member, yet is no member)."""
    return principal.role is Role.MEMBER and principal.member_id == member_id


def acts_for_one_of(principal: Principal, members: Collection[uuid.UUID]) -> bool:
    return principal.role is Role.MEMBER and principal.member_id in members


def own_member(principal: Principal) -> uuid.UUID | None:
    """The member a member's token acts for; None for every other role."""
    return principal.member_id if principal.role is Role.MEMBER else None
