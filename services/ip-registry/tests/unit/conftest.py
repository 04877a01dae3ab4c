"""Shared fixtures: an application over each event store, members, researchers, contexts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest

from ip_registry.application import IpRegistryApplication
from ip_registry.domain.identifiers import uscc_check_character
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext
from ipshare_kernel.clock import FixedClock

TODAY = date(2024, 6, 1)
ADMIN = CommandContext(Principal(Role.ADMIN, "admin"))


def credit_code(n: int) -> str:
    """A valid unified social credit code numbered n (check character computed)."""
    first17 = f"91110000{n:09d}"
    return first17 + uscc_check_character(first17)


def as_member(member_id: uuid.UUID) -> CommandContext:
    return CommandContext(Principal(Role.MEMBER, str(member_id), member_id))


@dataclass
class Center:
    """An application with three admitted members and one researcher at each."""

    app: IpRegistryApplication
    uni: uuid.UUID
    corp: uuid.UUID
    lab: uuid.UUID
    alice: uuid.UUID  # at uni
    bob: uuid.UUID  # at corp
    carol: uuid.UUID  # at lab


@pytest.fixture
def app(event_store_env: dict[str, str]) -> Iterator[IpRegistryApplication]:
    application = IpRegistryApplication(env=event_store_env, clock=FixedClock.on(TODAY))
    yield application
    application.close()


@pytest.fixture
def center(app: IpRegistryApplication) -> Center:
    since = date(2020, 1, 1)
    uni = app.admit_member(
        ADMIN, name="Uni", kind="university", state_established=True, credit_code=credit_code(1), effective_date=since
    )
    corp = app.admit_member(
        ADMIN, name="Corp", kind="enterprise", state_established=False, credit_code=credit_code(2), effective_date=since
    )
    lab = app.admit_member(
        ADMIN,
        name="Lab",
        kind="research_institute",
        state_established=True,
        credit_code=credit_code(3),
        effective_date=since,
    )
    alice = app.register_researcher(ADMIN, name="Alice", member_id=uni, effective_date=since)
    bob = app.register_researcher(ADMIN, name="Bob", member_id=corp, effective_date=since)
    carol = app.register_researcher(ADMIN, name="Carol", member_id=lab, effective_date=since)
    return Center(app, uni, corp, lab, alice, bob, carol)
