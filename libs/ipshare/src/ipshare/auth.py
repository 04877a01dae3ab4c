"""Bearer tokens: signed JWTs carrying a role and, for members, the member id."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

import jwt

from ipshare.settings import AuthSettings

ALGORITHM = "HS256"


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

    @property
    def reads_everything(self) -> bool:
        return self.role in (Role.ADMIN, Role.AUDITOR, Role.FINANCE, Role.SERVICE)


SYSTEM = Principal(Role.SERVICE, "system")


def issue_token(
    settings: AuthSettings,
    role: Role,
    member_id: uuid.UUID | None = None,
    subject: str | None = None,
    name: str | None = None,
) -> str:
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


def read_token(settings: AuthSettings, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "role"]},
        )
        role = Role(claims["role"])
        member = claims.get("member_id")
        member_id = uuid.UUID(member) if member else None
        name = claims.get("name")
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise AuthError(str(exc)) from exc
    if role is Role.MEMBER and member_id is None:
        raise AuthError("member token without member_id")
    return Principal(
        role=role, subject=str(claims["sub"]), member_id=member_id, name=name if isinstance(name, str) else None
    )
