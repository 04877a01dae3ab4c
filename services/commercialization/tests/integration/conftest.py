"""Shared by the integration tests that run an IP registry beside commercialization."""

from __future__ import annotations

import uuid
from datetime import date

from ip_registry.application import IpRegistryApplication
from ip_registry.domain.identifiers import uscc_check_character
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext

ADMIN = CommandContext(Principal(Role.ADMIN, "admin"))


def admit(registry: IpRegistryApplication, name: str, n: int) -> uuid.UUID:
    """Admit a university with the `n`th valid credit code."""
    code = f"91110000{n:09d}"
    return registry.admit_member(
        ADMIN, name=name, kind="university", state_established=True,
        credit_code=code + uscc_check_character(code), effective_date=date(2020, 1, 1),
    )  # fmt: skip
