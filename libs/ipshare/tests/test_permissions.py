"""The permission table: every role × permission as documented, and the refusals `require` raises."""

from __future__ import annotations

import itertools
import uuid

import pytest

from ipshare.auth import Principal, Role
from ipshare.permissions import GRANTS, HOLDERS_NAMED, Permission, acts_for, acts_for_one_of, holders, may, require
from ipshare_kernel.errors import Forbidden

# The table of docs/architecture.md ("Who may do what"), columns in `Role`'s order:
#   member, finance, auditor, incubator, admin, service
# fmt: off
DOCUMENTED = {
    Permission.READ_EVERYTHING:         "- x x - x x",
    Permission.READ_AUDIT_LOG:          "- - x - x -",
    Permission.MANAGE_MEMBERSHIP:       "- - - - x -",
    Permission.ACT_FOR_ANY_MEMBER:      "- - - - x -",
    Permission.RECORD_TRANSFERS:        "- - - - x x",
    Permission.KEEP_BOOKS:              "- x - - x x",
    Permission.SETTLE_PERIODS:          "- x - - x -",
    Permission.SET_DISTRIBUTION_POLICY: "- - - - x -",
    Permission.RUN_INCUBATION:          "- - - x x -",
    Permission.PAY_OUT:                 "- x - - x -",
    Permission.HANDLE_PARKED_EVENTS:    "- - - - x -",
}
# fmt: on
COLUMNS = (Role.MEMBER, Role.FINANCE, Role.AUDITOR, Role.INCUBATOR, Role.ADMIN, Role.SERVICE)
MEMBER = uuid.uuid4()


def principal(role: Role) -> Principal:
    return Principal(role, f"{role}-subject", member_id=MEMBER if role is Role.MEMBER else None)


def documented(permission: Permission, role: Role) -> bool:
    marks = DOCUMENTED[permission].split()
    assert len(marks) == len(COLUMNS)
    return marks[COLUMNS.index(role)] == "x"


def test_the_documented_table_names_every_permission_and_every_role() -> None:
    assert set(DOCUMENTED) == set(Permission) == set(GRANTS) == set(HOLDERS_NAMED)
    assert set(COLUMNS) == set(Role)


@pytest.mark.parametrize(("role", "permission"), list(itertools.product(Role, Permission)))
def test_each_role_holds_each_permission_as_documented(role: Role, permission: Permission) -> None:
    assert may(principal(role), permission) is documented(permission, role)


@pytest.mark.parametrize(("role", "permission"), list(itertools.product(Role, Permission)))
def test_require_refuses_exactly_the_roles_that_may_not(role: Role, permission: Permission) -> None:
    if documented(permission, role):
        require(principal(role), permission, "do it")
        return
    with pytest.raises(Forbidden) as refused:
        require(principal(role), permission, "do it")
    assert refused.value.message == f"only {HOLDERS_NAMED[permission]} may do it"
    assert refused.value.details == {"role": role.value}


def test_a_refusal_names_the_main_holder_and_the_callers_role() -> None:
    with pytest.raises(Forbidden) as refused:
        require(principal(Role.AUDITOR), Permission.SETTLE_PERIODS, "close settlement periods")
    assert (refused.value.message, refused.value.details) == (
        "only finance may close settlement periods",
        {"role": "auditor"},
    )


def test_a_member_holds_no_permission() -> None:
    assert not any(may(principal(Role.MEMBER), p) for p in Permission)


def test_holders_come_in_the_order_of_roles() -> None:
    assert holders(Permission.READ_AUDIT_LOG) == (Role.AUDITOR, Role.ADMIN)
    assert holders(Permission.READ_EVERYTHING) == (Role.FINANCE, Role.AUDITOR, Role.ADMIN, Role.SERVICE)


def test_only_a_members_own_token_acts_for_it() -> None:
    other = uuid.uuid4()
    assert acts_for(principal(Role.MEMBER), MEMBER)
    assert not acts_for(principal(Role.MEMBER), other)
    admin_naming_the_member = Principal(Role.ADMIN, "admin", member_id=MEMBER)
    assert not acts_for(admin_naming_the_member, MEMBER)
    assert acts_for_one_of(principal(Role.MEMBER), {other, MEMBER})
    assert not acts_for_one_of(admin_naming_the_member, {MEMBER})
