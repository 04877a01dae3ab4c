"""A command without a date of its own takes effect on the injected clock's day, not the machine's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import date

import pytest

from commercialization.application import CommercializationApplication
from commercialization.application.licensing import Licensing
from commercialization.domain.terms import RoyaltyTerms
from commercialization.entrypoints.expiry_worker import LicenseExpiry
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext
from ipshare_kernel.clock import FixedClock

OWNER = uuid.UUID(int=1)
ASSET = uuid.UUID(int=2)
OWNER_CTX = CommandContext(Principal(Role.MEMBER, str(OWNER), OWNER))
FINANCE = CommandContext(Principal(Role.FINANCE, "fiona"))
DISPATCHER = CommandContext(Principal(Role.SERVICE, "ownership-transfers"))
DAY = date(2031, 5, 17)  # not the machine's today: a use case reading the system clock would fail here
MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class Owners:
    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        return {OWNER: 10_000}


@pytest.fixture
def app() -> Iterator[CommercializationApplication]:
    application = CommercializationApplication(MEMORY, Owners(), clock=FixedClock.on(DAY))
    yield application
    application.close()


def test_a_grant_without_a_date_is_granted_on_the_clocks_day() -> None:
    licensing = Licensing(MEMORY, Owners(), clock=FixedClock.on(DAY))  # the licensing part alone
    license_id = licensing.grant_license(OWNER_CTX, "Acme", [ASSET], "non_exclusive", 300)
    license = licensing.get_license(FINANCE, license_id)
    assert (license.start_date, license.granted_on) == (DAY, DAY)
    licensing.close()


def test_a_draft_submitted_without_a_date_is_granted_on_the_clocks_day(app: CommercializationApplication) -> None:
    drafted = app.draft_license(OWNER_CTX, "Acme", [ASSET], "non_exclusive", 300, effective_date=date(2031, 1, 2))
    app.submit_license(OWNER_CTX, drafted)
    assert app.get_license(FINANCE, drafted).granted_on == DAY


def test_an_invoice_and_the_receivables_without_a_date_take_the_clocks_day(app: CommercializationApplication) -> None:
    terms = RoyaltyTerms(currency="CNY", annual_maintenance_fee=30_000)
    license_id = app.grant_license(
        OWNER_CTX, "Acme", [ASSET], "exclusive", terms=terms, effective_date=date(2031, 1, 2)
    )
    invoice_id = app.invoice_maintenance_fee(FINANCE, license_id, 1)
    assert app.get_account(FINANCE, license_id).invoices[invoice_id].issued_on == DAY
    report = app.receivables(FINANCE)
    assert report.as_of == DAY
    assert [(line.invoice_id, line.bucket) for line in report.lines] == [(invoice_id, "current")]


def test_a_refused_transfer_credits_the_proceeds_on_the_clocks_day(app: CommercializationApplication) -> None:
    """The registry's refusal carries no date: the credit note is dated the day it is recorded."""
    assignment_id = app.propose_assignment(OWNER_CTX, ASSET, "Buyer", 1_000, "CNY", effective_date=date(2031, 1, 2))
    [request] = app.transfer_requests_after(0, 10)
    app.refuse_ownership_transfer(DISPATCHER, assignment_id, request.event.request_id, "NOT_FOUND", "no such asset")
    [credit] = app.get_account(FINANCE, assignment_id).credits.values()
    assert (credit.amount, credit.issued_on) == (1_000, DAY)


async def test_the_expiry_worker_follows_the_applications_clock(app: CommercializationApplication) -> None:
    ended = app.grant_license(OWNER_CTX, "Ended", [ASSET], end_date=date(2031, 5, 16), effective_date=date(2031, 1, 2))
    running = app.grant_license(OWNER_CTX, "Runs", [ASSET], end_date=DAY, effective_date=date(2031, 1, 2))
    assert await LicenseExpiry(app).expire_due() == [ended]
    assert app.get_license(FINANCE, running).ended_on is None
