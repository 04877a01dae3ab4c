"""Bearer tokens: who is acting, read from a signed JWT.

Tokens come from the organization's identity provider (`OIDC_ISSUER`): signed with its asymmetric
keys, found through OIDC discovery and its JWKS (`ipshare.identity` reads them), their claims mapped
to a role, the member acted for and a display name (`ClaimNames`). Without an issuer, tokens are HS256
with `JWT_SECRET`, for development only (`AuthSettings.refuse_development_auth`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from ipshare.settings import AuthSettings

ALGORITHM = "HS256"  # the development shared-secret mode only


class Role(StrEnum):
    MEMBER = "member"
    FINANCE = "finance"
    AUDITOR = "auditor"
    INCUBATOR = "incubator"
    ADMIN = "admin"
    SERVICE = "service"  # another ipshare service calling on its own behalf


class AuthError(Exception):
    """The token is missing, malformed, expired or signed with another key."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a role, a subject, for members the member they act for, and a display name if known."""

    role: Role
    subject: str
    member_id: uuid.UUID | None = None
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.role}:{self.member_id or self.subject}"


SYSTEM = Principal(Role.SERVICE, "system")


@dataclass(frozen=True, slots=True)
class ClaimNames:
    """Where an issuer's token says the role, the member and the name (dotted paths into the claims)."""

    roles: str = "roles"
    member_id: str = "member_id"
    name: str = "name"
    role_prefix: str = ""

    @classmethod
    def of(cls, settings: AuthSettings) -> ClaimNames:
        return cls(settings.oidc_roles_claim, settings.oidc_member_claim, settings.oidc_name_claim,
                   settings.oidc_role_prefix)  # fmt: skip


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (`realm_access.roles`), or None where the path ends early."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def principal_from_claims(claims: Mapping[str, Any], names: ClaimNames) -> Principal:
    """The principal a verified token's claims describe; AuthError where they name no single role,
    or a member token names no member."""
    role = _single_role(claim_at(claims, names.roles), names.role_prefix)
    member = claim_at(claims, names.member_id)
    try:
        member_id = uuid.UUID(str(member)) if member else None
    except ValueError as exc:
        raise AuthError(f"claim {names.member_id} is not a member id: {member!r}") from exc
    if role is Role.MEMBER and member_id is None:
        raise AuthError(f"a member token needs the member id (claim {names.member_id})")
    name = claim_at(claims, names.name)
    return Principal(role=role, subject=str(claims["sub"]), member_id=member_id,
                     name=name if isinstance(name, str) and name else None)  # fmt: skip


def _single_role(value: Any, prefix: str) -> Role:
    listed = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    known = {r.value for r in Role}
    roles = {Role(v.removeprefix(prefix)) for v in listed
             if isinstance(v, str) and v.startswith(prefix) and v.removeprefix(prefix) in known}  # fmt: skip
    if len(roles) != 1:
        found = ", ".join(sorted(roles)) or "none"
        raise AuthError(f"the token must name exactly one ipshare role (found: {found})")
    return roles.pop()


# -- development mode: HS256 with the shared secret ----------------------------------------------


def issue_token(
    settings: AuthSettings,
    role: Role,
    member_id: uuid.UUID | None = None,
    subject: str | None = None,
    name: str | None = None,
) -> str:
    """Development only: an HS256 token signed with JWT_SECRET (see `ipshare.dev_issuer` for the issuer)."""
    if role is Role.MEMBER and member_id is None:
        raise ValueError("a member token needs the member id")
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": settings.jwt_issuer,
        "sub": subject or (str(member_id) if member_id else role.value),
        "role": role.value,
        "iat": now,
        "exp": now + settings.jwt_ttl_seconds,
    }
    if member_id is not None:
        claims["member_id"] = str(member_id)
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


SHARED_SECRET_CLAIMS = ClaimNames(roles="role")


def read_shared_secret_token(settings: AuthSettings, token: str) -> Principal:
    """Development only: the principal of an HS256 token signed with JWT_SECRET."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "role"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(str(exc)) from exc
    return principal_from_claims(claims, SHARED_SECRET_CLAIMS)
