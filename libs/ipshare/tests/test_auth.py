"""Bearer tokens: what a token says about who is acting."""

from __future__ import annotations

import uuid

from ipshare.auth import Role, issue_token
from ipshare.identity import read_token
from ipshare.settings import AuthSettings

SETTINGS = AuthSettings(jwt_secret="a-test-secret-long-enough-for-hs256-keys")


def test_the_display_name_travels_with_the_token() -> None:
    member = uuid.uuid4()
    token = issue_token(SETTINGS, Role.MEMBER, member, name="Ada Lovelace")
    principal = read_token(SETTINGS, token)
    assert (principal.role, principal.member_id, principal.name) == (Role.MEMBER, member, "Ada Lovelace")


def test_a_token_without_a_name_has_none() -> None:
    assert read_token(SETTINGS, issue_token(SETTINGS, Role.FINANCE)).name is None
