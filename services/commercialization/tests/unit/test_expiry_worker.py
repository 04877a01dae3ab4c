"""The expiry worker: active licenses past their end date expire on their own, once, by the
service's clock; open-ended, running, terminated and extended licenses are left alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Mapping
from datetime import date

import pytest

from commercialization.application import CommercializationApplication
from commercialization.domain.license import License, LicenseStatus
from commercialization.entrypoints.expiry_worker import LicenseExpiry
from commercialization.entrypoints.schemas import LicenseOut
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext

OWNER = uuid.UUID(int=7)
ASSET = uuid.UUID(int=8)
START = date(2025, 1, 1)
GRANTER = CommandContext(Principal(Role.MEMBER, str(OWNER), OWNER))
FINANCE = CommandContext(Principal(Role.FINANCE, "fiona"))


class Owners:
    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        return {OWNER: 10_000}


@pytest.fixture
def app(event_store_env: dict[str, str]) -> Iterator[CommercializationApplication]:
    application = CommercializationApplication(env=event_store_env, ownership=Owners())
    yield application
    application.close()


class Clock:
    def __init__(self, today: date) -> None:
        self.day = today

    def __call__(self) -> date:
        return self.day


def grant(app: CommercializationApplication, licensee: str, end: date | None) -> uuid.UUID:
    return app.grant_license(GRANTER, licensee, [ASSET], "non_exclusive", 100, end_date=end, effective_date=START)


def expiries(app: CommercializationApplication) -> list[uuid.UUID]:
    events = [app.mapper.to_domain_event(n) for n in app.notifications_after(0, 10_000)]
    return [e.originator_id for e in events if isinstance(e, License.Expired)]


async def test_licenses_past_their_term_expire_once_as_of_their_end_date(app: CommercializationApplication) -> None:
    ended = grant(app, "Ended", date(2025, 3, 31))
    ends_today = grant(app, "Ends today", date(2025, 4, 1))
    open_ended = grant(app, "Open", None)
    terminated = grant(app, "Terminated", date(2025, 2, 28))
    app.terminate_license(GRANTER, terminated, "breach", date(2025, 2, 1))
    extended = grant(app, "Extended", date(2025, 3, 15))
    app.amend_license(GRANTER, extended, date(2025, 3, 1), end_date=date(2026, 12, 31))
    clock = Clock(date(2025, 4, 1))
    worker = LicenseExpiry(app, today=clock)

    assert await worker.expire_due() == [ended]
    shown = LicenseOut.of(app.get_license(FINANCE, ended))  # what GET /licenses/{id} answers
    assert (shown.status, shown.ended_on) == ("expired", date(2025, 3, 31))
    assert await worker.expire_due() == []  # nothing twice
    assert await LicenseExpiry(app, today=clock).expire_due() == []  # a restart reads the log again: nothing new

    clock.day = date(2025, 4, 2)  # the next day, by the service's clock
    assert await worker.expire_due() == [ends_today]
    later = grant(app, "Backdated", date(2025, 1, 31))  # recorded after the worker started
    assert await worker.expire_due() == [later]
    clock.day = date(2027, 1, 1)
    assert await worker.expire_due() == [extended]
    assert sorted(expiries(app), key=str) == sorted([ended, ends_today, later, extended], key=str)
    statuses = {i: app.get_license(FINANCE, i).status for i in (open_ended, terminated)}
    assert statuses == {open_ended: LicenseStatus.ACTIVE, terminated: LicenseStatus.TERMINATED}


async def test_two_workers_at_once_and_finance_beside_them_expire_a_license_once(
    app: CommercializationApplication,
) -> None:
    first, second = grant(app, "A", date(2025, 2, 1)), grant(app, "B", date(2025, 2, 1))
    app.expire_license(FINANCE, second, date(2025, 3, 1))  # finance was there first
    clock = Clock(date(2025, 3, 1))
    one, two = LicenseExpiry(app, today=clock), LicenseExpiry(app, today=clock)
    assert sorted(await asyncio.gather(one.expire_due(), two.expire_due())) == [[], [first]]
    assert await asyncio.gather(one.expire_due(), two.expire_due()) == [[], []]  # a lost race, looked at again
    assert (one.ends, two.ends) == ({}, {})
    assert sorted(expiries(app), key=str) == sorted([first, second], key=str)
