"""Who is signed in: the bearer token in an HttpOnly cookie, read back on every request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ipshare.auth import AuthError, Principal, Role, issue_token
from ipshare.identity import development_person_token, read_token
from ipshare.settings import AuthSettings

SESSION_COOKIE = "ipshare_session"
LANG_COOKIE = "ipshare_lang"
# The roles a person signs in as; `service` is for the services' own calls.
SIGN_IN_ROLES = (Role.MEMBER, Role.FINANCE, Role.INCUBATOR, Role.AUDITOR, Role.ADMIN)


@dataclass(frozen=True)
class Session:
    token: str
    principal: Principal

    @property
    def role(self) -> Role:
        return self.principal.role

    @property
    def member_id(self) -> str | None:
        return str(self.principal.member_id) if self.principal.member_id else None


def open_session(settings: AuthSettings, role: Role, member_id: uuid.UUID | None) -> Session:
    """The local sign-in (development mode): a person's token from the development issuer's token
    endpoint, or without an issuer one signed with the shared secret, as `ipshare token` makes."""
    if settings.uses_issuer:
        token = development_person_token(settings, role, member_id)
    else:
        subject = f"console-{role.value}" if member_id is None else str(member_id)
        token = issue_token(settings, role, member_id, subject=subject)
    return Session(token, read_token(settings, token))


def resume_session(settings: AuthSettings, token: str | None) -> Session | None:
    """The session of the cookie's token; None when there is none, it expired, or it is a service's."""
    if not token:
        return None
    try:
        principal = read_token(settings, token)
    except AuthError:
        return None
    return None if principal.role is Role.SERVICE else Session(token, principal)
