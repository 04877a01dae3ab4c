"""Use cases end to end on every event store (in-memory and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commercialization.application import CommercializationApplication
from commercialization.catalog import build_catalog
from commercialization.domain import scope
from commercialization.domain.account import LicenseAccount
from commercialization.domain.assignment import Assignment, TransferOutcome
from commercialization.domain.license import LicenseStatus
from commercialization.domain.ownership import OwnershipPeriod, owners_during
from commercialization.domain.reports import ReportLine, RoyaltyLedger
from commercialization.domain.terms import Milestone, RoyaltyTerms, Tier
from commercialization.permissions import acting_member
from ipshare.auth import Principal, Role
from ipshare.error_status import http_status
from ipshare.eventstore import CommandContext
from ipshare_devtools.testing.typed_twins import twin_disagreements
from ipshare_kernel.errors import Conflict, DomainError, Forbidden, NotFound
from ipshare_kernel.money import Money

UNIVERSITY = uuid.UUID("00000000-0000-0000-0000-00000000000a")
INSTITUTE = uuid.UUID("00000000-0000-0000-0000-00000000000b")
ENTERPRISE = uuid.UUID("00000000-0000-0000-0000-00000000000c")


class FakeOwnership:
    """Owners per asset, effective from a date (the latest change on or before the day counts);
    like the projection, it also answers who held a share during a span."""

    def __init__(self) -> None:
        self.history: dict[uuid.UUID, list[tuple[date, dict[uuid.UUID, int]]]] = {}

    def set(self, asset_id: uuid.UUID, owners: Mapping[uuid.UUID, int], since: date = date(2000, 1, 1)) -> uuid.UUID:
        self.history.setdefault(asset_id, []).append((since, dict(owners)))
        self.history[asset_id].sort(key=lambda pair: pair[0])
        return asset_id

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        found: dict[uuid.UUID, int] = {}
        for since, owners in self.history.get(asset_id, []):
            if since <= as_of:
                found = owners
        return found

    def owners_during(self, asset_id: uuid.UUID, start: date, end: date) -> set[uuid.UUID]:
        periods = [OwnershipPeriod(since, owners) for since, owners in self.history.get(asset_id, [])]
        return owners_during(periods, start, end)


def member(member_id: uuid.UUID) -> CommandContext:
    return CommandContext(Principal(Role.MEMBER, str(member_id), member_id))


FINANCE = CommandContext(Principal(Role.FINANCE, "fiona"))
# Fields of use by IPC code: cells (lithium-ion, H01M 10/052) lie inside batteries (H01M).
CODES = {"batteries": ["H01M"], "Batteries": ["H01M"], "EV batteries": ["H01M 10/052"], "cells": ["H01M 10/052"],
         "lasers": ["H01S"], "robots": ["B25J"], "x": ["A01B"], "y": ["A01C"]}  # fmt: skip


def field(description: str) -> dict[str, Any]:
    """A field of use as a request names it: its description and its codes (none: all fields)."""
    return {"field_of_use": description, "fields": CODES.get(description, [])}


AUDITOR = CommandContext(Principal(Role.AUDITOR, "audrey"))


@pytest.fixture
def ownership() -> FakeOwnership:
    return FakeOwnership()


@pytest.fixture
def app(event_store_env: dict[str, str], ownership: FakeOwnership) -> Iterator[CommercializationApplication]:
    application = CommercializationApplication(env=event_store_env, ownership=ownership, reads=ownership)
    yield application
    application.close()


@pytest.fixture
def memory_app(ownership: FakeOwnership) -> Iterator[CommercializationApplication]:
    """The in-memory store only: for property tests that run many examples."""
    application = CommercializationApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, ownership=ownership)
    yield application
    application.close()


D = date(2025, 1, 1)


def asset(ownership: FakeOwnership, **owners: int) -> uuid.UUID:
    names = {"university": UNIVERSITY, "institute": INSTITUTE, "enterprise": ENTERPRISE}
    return ownership.set(uuid.uuid4(), {names[k]: v for k, v in owners.items()})


# -- the thin slice ------------------------------------------------------------------------


def test_a_non_exclusive_license_granted_by_one_co_owner_and_paid(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=6_000, institute=4_000)
    license_id = app.grant_license(member(UNIVERSITY), "Acme Motors", [a], "non_exclusive", 500, effective_date=D)
    assert app.get_license(member(INSTITUTE), license_id).status is LicenseStatus.ACTIVE
    report_id = app.submit_royalty_report(
        FINANCE, license_id, date(2025, 1, 1), date(2025, 3, 31),
        [ReportLine("cell-A", "CN", "CNY", 1_000_000, 0)], effective_date=date(2025, 4, 10),
    )  # fmt: skip
    payment_id = app.record_payment(FINANCE, license_id, 50_000, "CNY", date(2025, 4, 20), "BANK-7781")
    account = app.get_account(FINANCE, license_id)
    assert account.unapplied_cash() == {}
    [revenue] = [e for e in published(app) if isinstance(e, LicenseAccount.RevenueReceived)]
    assert (revenue.license_id, revenue.asset_ids, revenue.kind) == (license_id, [a], "royalty")
    assert (revenue.amount, revenue.effective_date, revenue.payment_id) == (
        {"amount": 50_000, "currency": "CNY"}, date(2025, 4, 20), payment_id,
    )  # fmt: skip
    assert report_id in app.get_royalty_ledger(FINANCE, license_id).reports


def published(app: CommercializationApplication) -> list[Any]:
    return [app.mapper.to_domain_event(n) for n in app.notifications_after(0, 10_000)]


def test_every_event_converts_to_its_contract(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    run_everything(app, ownership)
    catalog = build_catalog()
    kinds = set()
    for notification in app.notifications_after(0, 10_000):
        event, meta = app.metadata_mapper.decode(notification)
        if catalog.publishes(event):
            envelope = catalog.envelope(notification.id, event, meta)
            assert envelope.type.startswith("ipshare.commercialization.v1.")
            assert twin_disagreements(catalog.payload(event)) + twin_disagreements(envelope) == []
            kinds.add(envelope.type.rsplit(".", 1)[1])
    registered = {t.DESCRIPTOR.name for t in catalog.payload_types()}
    assert kinds == registered  # the scenario emits every published event type


def run_everything(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    a = asset(ownership, university=5_000, institute=5_000)
    b = asset(ownership, university=10_000)
    terms = RoyaltyTerms(
        currency="CNY",
        upfront_fee=100_000,
        annual_maintenance_fee=20_000,
        running_royalty={"CNY": (Tier(0, 500), Tier(1_000_000, 300))},
        minimum_annual_royalty=200_000,
        milestones=(Milestone("first sale", 50_000),),
        sublicense_share_bps=2_000,
        patent_cost_reimbursement=True,
        asset_split_bps={str(a): 7_000, str(b): 3_000},
    )
    lic = app.grant_license(
        member(UNIVERSITY), "Acme", [a, b], "exclusive", terms=terms, **field("batteries"), territory=["CN"],
        start_date=D, end_date=date(2027, 12, 31), sublicensing_allowed=True, effective_date=D,
    )  # fmt: skip
    app.give_consent(member(INSTITUTE), lic, effective_date=D)
    app.amend_license(member(UNIVERSITY), lic, date(2025, 6, 1), end_date=date(2028, 12, 31), note="extension")
    app.consent_to_amendment(member(INSTITUTE), lic, effective_date=date(2025, 5, 20))
    app.amend_license(member(UNIVERSITY), lic, date(2025, 7, 1), **field("cells"), note="narrower")
    app.refuse_amendment(member(INSTITUTE), lic, "no", effective_date=date(2025, 5, 21))
    app.report_milestone(FINANCE, lic, "first sale", date(2025, 2, 1))
    app.report_sublicense_income(FINANCE, lic, "SubCo", 100_000, "CNY", date(2025, 2, 2))
    app.invoice_patent_costs(FINANCE, lic, 30_000, "CNY", "CN annuity 2025", date(2025, 2, 3))
    app.invoice_maintenance_fee(FINANCE, lic, 2, date(2026, 1, 1))
    first = app.submit_royalty_report(
        FINANCE,
        lic,
        date(2025, 1, 1),
        date(2025, 6, 30),
        [ReportLine("cell", "CN", "CNY", 800_000)],
        effective_date=date(2025, 7, 5),
    )
    second = app.submit_royalty_report(
        FINANCE, lic, date(2025, 1, 1), date(2025, 6, 30), [ReportLine("cell", "CN", "CNY", 600_000)],
        supersedes=first, effective_date=date(2025, 7, 9),
    )  # fmt: skip
    app.record_payment(FINANCE, lic, 1_000_000, "CNY", date(2025, 7, 20), "BANK-1")
    app.submit_royalty_report(  # a correction after payment: revenue taken back
        FINANCE, lic, date(2025, 1, 1), date(2025, 6, 30), [ReportLine("cell", "CN", "CNY", 400_000)],
        supersedes=second, effective_date=date(2025, 8, 1),
    )  # fmt: skip
    app.true_up_minimum_royalty(FINANCE, lic, 1, date(2026, 1, 5))
    app.terminate_license(member(UNIVERSITY), lic, "breach", date(2026, 6, 30))
    expiring = app.grant_license(
        member(UNIVERSITY),
        "Beta",
        [b],
        **field("lasers"),
        start_date=D,
        end_date=date(2025, 3, 1),
        effective_date=D,
    )
    app.expire_license(FINANCE, expiring, date(2025, 3, 2))
    refused = app.grant_license(member(UNIVERSITY), "Gamma", [a], "sole", **field("robots"), effective_date=D)
    app.refuse_consent(member(INSTITUTE), refused, "no", effective_date=D)
    draft = app.draft_license(member(UNIVERSITY), "Delta", [b], "non_exclusive", **field("lasers"), effective_date=D)
    app.submit_license(member(UNIVERSITY), draft, D)
    sale = app.propose_assignment(member(UNIVERSITY), a, "Buyer Ltd", 5_000_000, "CNY", effective_date=D)
    app.consent_to_assignment(member(INSTITUTE), sale, effective_date=date(2025, 1, 2))
    app.record_payment(FINANCE, sale, 5_000_000, "CNY", date(2025, 1, 30), "BUYER-1")
    dispatcher = CommandContext(Principal(Role.SERVICE, "ownership-transfers"))
    done = TransferOutcome(app.get_assignment(FINANCE, sale).request_id, {}, date(2025, 1, 2))
    app.complete_ownership_transfer(dispatcher, sale, done)  # the registry assigned it out
    other_sale = app.propose_assignment(member(UNIVERSITY), a, "Other", 1, "CNY", effective_date=D)
    app.refuse_assignment(member(INSTITUTE), other_sale, "no", effective_date=D)
    stale = app.propose_assignment(member(UNIVERSITY), a, "Late", 1, "CNY", effective_date=D)
    app.consent_to_assignment(member(INSTITUTE), stale, effective_date=D)
    stale_request = app.get_assignment(FINANCE, stale).request_id
    app.refuse_ownership_transfer(dispatcher, stale, stale_request, "FAILED_PRECONDITION", "assigned out already")


# -- consent (Patent Law art. 14) ----------------------------------------------------------


def test_an_exclusive_license_waits_for_every_co_owner(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=5_000, institute=3_000, enterprise=2_000)
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], "exclusive", 500, effective_date=D)
    assert app.get_license(FINANCE, lic).missing_consents == sorted([INSTITUTE, ENTERPRISE], key=str)
    assert app.give_consent(member(INSTITUTE), lic, effective_date=D) is LicenseStatus.PENDING_CONSENT
    assert app.give_consent(member(INSTITUTE), lic, effective_date=D) is LicenseStatus.PENDING_CONSENT  # no-op
    assert app.give_consent(member(ENTERPRISE), lic, effective_date=date(2025, 1, 3)) is LicenseStatus.ACTIVE
    assert app.get_license(FINANCE, lic).granted_on == date(2025, 1, 3)


def test_an_amendment_of_an_exclusive_license_waits_for_every_co_owner(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=5_000, institute=3_000, enterprise=2_000)
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], "exclusive", 500, effective_date=D)
    app.give_consent(member(INSTITUTE), lic, effective_date=D)
    app.give_consent(member(ENTERPRISE), lic, effective_date=D)
    extended = date(2030, 12, 31)
    assert app.amend_license(member(UNIVERSITY), lic, date(2025, 6, 1), end_date=extended) is False
    license = app.get_license(FINANCE, lic)
    assert (license.end_date, license.amendment_missing_consents) == (None, sorted([INSTITUTE, ENTERPRISE], key=str))
    with pytest.raises(Conflict, match="awaits"):  # one proposal at a time
        app.amend_license(member(INSTITUTE), lic, date(2025, 6, 1), **field("cells"))
    with pytest.raises(Forbidden):
        app.consent_to_amendment(member(uuid.uuid4()), lic, effective_date=D)
    assert app.consent_to_amendment(member(INSTITUTE), lic, effective_date=D) is False
    assert app.consent_to_amendment(member(ENTERPRISE), lic, effective_date=D) is True
    license = app.get_license(FINANCE, lic)
    assert (license.end_date, license.amendments, license.proposed_amendment) == (extended, [date(2025, 6, 1)], None)


def test_a_non_exclusive_license_is_amended_by_one_co_owner_and_a_refused_amendment_changes_nothing(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=5_000, institute=5_000)
    open_one = app.grant_license(member(UNIVERSITY), "Acme", [a], "non_exclusive", **field("robots"),
                                 effective_date=D)  # fmt: skip
    assert app.amend_license(member(INSTITUTE), open_one, date(2025, 3, 1), note="rate cut") is True
    exclusive = app.grant_license(member(UNIVERSITY), "Beta", [a], "exclusive", **field("cells"),
                                  effective_date=D)  # fmt: skip
    app.give_consent(member(INSTITUTE), exclusive, effective_date=D)
    assert app.amend_license(member(INSTITUTE), exclusive, date(2025, 3, 1), **field("lasers")) is False
    app.refuse_amendment(member(UNIVERSITY), exclusive, "keep it to cells", effective_date=D)
    license = app.get_license(FINANCE, exclusive)
    assert (license.field_of_use, license.amendments, license.proposed_amendment) == ("cells", [], None)


def test_an_amendment_that_would_overlap_another_exclusive_license_is_refused_when_proposed(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=5_000, institute=5_000)
    for name in ("cells", "lasers"):
        lic = app.grant_license(member(UNIVERSITY), name, [a], "exclusive", **field(name), effective_date=D)
        app.give_consent(member(INSTITUTE), lic, effective_date=D)
    with pytest.raises(Conflict, match="overlaps"):
        app.amend_license(member(UNIVERSITY), lic, date(2025, 3, 1), **field("cells"))
    assert app.get_license(FINANCE, lic).proposed_amendment is None


def test_a_sole_owner_grants_an_exclusive_license_at_once(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=10_000)
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], "sole", effective_date=D)
    assert app.get_license(FINANCE, lic).status is LicenseStatus.ACTIVE


def test_refused_consent_frees_the_scope(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    a = asset(ownership, university=5_000, institute=5_000)
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], "exclusive", effective_date=D)
    app.refuse_consent(member(INSTITUTE), lic, "we have our own plans", effective_date=D)
    assert app.get_license(FINANCE, lic).status is LicenseStatus.REFUSED
    assert app.grant_license(member(INSTITUTE), "Other", [a], "non_exclusive", effective_date=D)


def test_only_co_owners_grant_and_consent(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    a = asset(ownership, university=5_000, institute=5_000)
    with pytest.raises(Forbidden):
        app.grant_license(member(ENTERPRISE), "Acme", [a], "non_exclusive", effective_date=D)
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], "exclusive", effective_date=D)
    with pytest.raises(Forbidden):
        app.give_consent(member(ENTERPRISE), lic, effective_date=D)
    with pytest.raises(Forbidden):
        app.give_consent(FINANCE, lic, INSTITUTE, effective_date=D)  # finance does not act as an owner
    admin = CommandContext(Principal(Role.ADMIN, "root"))
    assert app.give_consent(admin, lic, INSTITUTE, effective_date=D) is LicenseStatus.ACTIVE


def test_ownership_is_taken_on_the_grant_date(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    a = ownership.set(uuid.uuid4(), {UNIVERSITY: 10_000})
    ownership.set(a, {UNIVERSITY: 5_000, INSTITUTE: 5_000}, since=date(2025, 6, 1))
    early = app.grant_license(member(UNIVERSITY), "Early", [a], "exclusive", **field("x"), effective_date=D)
    late = app.grant_license(
        member(UNIVERSITY), "Late", [a], "exclusive", **field("y"), effective_date=date(2025, 6, 1)
    )
    assert app.get_license(FINANCE, early).status is LicenseStatus.ACTIVE
    assert app.get_license(FINANCE, late).missing_consents == [INSTITUTE]


def test_an_unknown_asset_is_not_found(app: CommercializationApplication) -> None:
    with pytest.raises(NotFound):
        app.grant_license(member(UNIVERSITY), "Acme", [uuid.uuid4()], effective_date=D)


# -- exclusivity -------------------------------------------------------------------------


def test_an_overlapping_license_is_a_409_naming_the_license_and_overlap(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=10_000)
    first = app.grant_license(
        member(UNIVERSITY), "Acme", [a], "exclusive", **field("Batteries"), territory=["CN", "US"],
        start_date=D, end_date=date(2029, 12, 31), effective_date=D,
    )  # fmt: skip
    with pytest.raises(Conflict) as caught:
        app.grant_license(
            member(UNIVERSITY), "Beta", [a], "non_exclusive", territory=["US", "DE"],
            start_date=date(2027, 1, 1), effective_date=D,
        )  # fmt: skip
    assert http_status(caught.value) == 409
    assert caught.value.details["conflicting_license_id"] == str(first)
    assert caught.value.details["overlap"] == {
        "asset_ids": [str(a)],
        "field_of_use": "Batteries",
        "fields": ["H01M"],
        "territory": ["US"],
        "start_date": "2027-01-01",
        "end_date": "2029-12-31",
    }
    # outside the exclusive field, or after its term, a license is fine
    app.grant_license(member(UNIVERSITY), "Gamma", [a], **field("robots"), effective_date=D)
    app.grant_license(member(UNIVERSITY), "Delta", [a], start_date=date(2030, 1, 1), effective_date=D)
    # a field inside the exclusive one is not: EV batteries (H01M 10/052) lie inside batteries (H01M)
    with pytest.raises(Conflict) as caught:
        app.grant_license(member(UNIVERSITY), "Epsilon", [a], **field("EV batteries"), effective_date=D)
    assert caught.value.details["overlap"]["fields"] == ["H01M 10/052"]
    with pytest.raises(DomainError, match="IPC/CPC codes"):  # free text alone no longer names a field
        app.grant_license(member(UNIVERSITY), "Zeta", [a], field_of_use="batteries", effective_date=D)


def test_after_termination_the_scope_is_free_again(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    a = asset(ownership, university=10_000)
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], "exclusive", start_date=D, effective_date=D)
    app.terminate_license(member(UNIVERSITY), lic, "breach", date(2025, 12, 31))
    with pytest.raises(Conflict):
        app.grant_license(member(UNIVERSITY), "Beta", [a], start_date=date(2025, 12, 31), effective_date=D)
    app.grant_license(member(UNIVERSITY), "Beta", [a], start_date=date(2026, 1, 1), effective_date=D)


def test_widening_an_amendment_is_checked_too(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    a = asset(ownership, university=10_000)
    app.grant_license(member(UNIVERSITY), "Acme", [a], "exclusive", territory=["CN"], effective_date=D)
    other = app.grant_license(member(UNIVERSITY), "Beta", [a], territory=["US"], effective_date=D)
    with pytest.raises(Conflict):
        app.amend_license(member(UNIVERSITY), other, date(2025, 3, 1), territory=["US", "CN"])


def test_a_country_code_withdrawn_since_the_grant_does_not_block_other_amendments(
    app: CommercializationApplication, ownership: FakeOwnership, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = asset(ownership, university=10_000)
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], territory=["CN", "US"], effective_date=D)
    monkeypatch.setattr(scope, "iso_countries", lambda: frozenset({"US"}))  # as if ISO withdrew CN
    app.amend_license(member(UNIVERSITY), lic, date(2025, 3, 1), end_date=date(2026, 12, 31))
    amended = app.get_license(FINANCE, lic)
    assert (amended.territory, amended.end_date) == ({"CN", "US"}, date(2026, 12, 31))
    with pytest.raises(DomainError, match="not an ISO 3166-1 alpha-2 country code: CN"):
        app.amend_license(member(UNIVERSITY), lic, date(2025, 4, 1), territory=["CN"])


exclusive_scopes = st.tuples(
    st.sampled_from(["all fields", "batteries", "robots"]),
    st.sampled_from([("WORLDWIDE",), ("CN",), ("US",), ("CN", "US")]),
    st.integers(0, 20),
    st.one_of(st.none(), st.integers(0, 20)),
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(first=exclusive_scopes, second=exclusive_scopes)
def test_through_the_application_overlapping_exclusive_licenses_are_rejected(
    memory_app: CommercializationApplication,
    ownership: FakeOwnership,
    first: tuple[str, tuple[str, ...], int, int | None],
    second: tuple[str, tuple[str, ...], int, int | None],
) -> None:
    a = asset(ownership, university=10_000)

    def grant(scope: tuple[str, tuple[str, ...], int, int | None]) -> uuid.UUID:
        field_of_use, territory, start, length = scope
        begin = D + timedelta(days=start)
        end = None if length is None else begin + timedelta(days=length)
        return memory_app.grant_license(
            member(UNIVERSITY), "L", [a], "exclusive", **field(field_of_use), territory=territory,
            start_date=begin, end_date=end, effective_date=D,
        )  # fmt: skip

    grant(first)
    fields_meet = "all fields" in (first[0], second[0]) or first[0] == second[0]
    countries_meet = "WORLDWIDE" in first[1] + second[1] or bool(set(first[1]) & set(second[1]))
    ends = [None if s[3] is None else s[2] + s[3] for s in (first, second)]
    days_meet = all(e is None or e >= max(first[2], second[2]) for e in ends)
    if fields_meet and countries_meet and days_meet:
        with pytest.raises(Conflict):
            grant(second)
    else:
        grant(second)


# -- royalty reports, invoices, true-up ---------------------------------------------------

TIERED = RoyaltyTerms(
    currency="CNY",
    running_royalty={"CNY": (Tier(0, 500), Tier(1_000_000, 300)), "USD": (Tier(0, 400),)},
    minimum_annual_royalty=100_000,
)


def tiered_license(app: CommercializationApplication, ownership: FakeOwnership) -> uuid.UUID:
    a = asset(ownership, university=10_000)
    return app.grant_license(
        member(UNIVERSITY), "Acme", [a], "non_exclusive", terms=TIERED, **field("batteries"),
        territory=["CN", "US"], start_date=D, end_date=date(2027, 12, 31), effective_date=D,
    )  # fmt: skip


def invoices(app: CommercializationApplication, license_id: uuid.UUID) -> list[tuple[str, int, str]]:
    account = app.get_account(FINANCE, license_id)
    return [(i.kind.value, i.amount, i.currency) for i in sorted(account.invoices.values(), key=lambda i: i.sequence)]


def q(app: CommercializationApplication, lic: uuid.UUID, quarter: int, *lines: ReportLine, **kw: Any) -> uuid.UUID:
    start = date(2025, 3 * quarter - 2, 1)
    end = date(2025, 3 * quarter + 1, 1) - timedelta(days=1) if quarter < 4 else date(2025, 12, 31)
    return app.submit_royalty_report(FINANCE, lic, start, end, lines, effective_date=end + timedelta(days=10), **kw)


def test_a_tier_crossed_inside_one_report_and_currencies_apart(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    lic = tiered_license(app, ownership)
    q(app, lic, 1, ReportLine("cell", "CN", "CNY", 900_000, 100_000))  # net 8,000.00 x 5% = 400.00
    q(app, lic, 2, ReportLine("cell", "CN", "CNY", 400_000), ReportLine("cell", "US", "USD", 50_000))
    # CNY: 2,000.00 x 5% + 2,000.00 x 3% = 160.00; USD: 500.00 x 4% = 20.00 on its own
    assert invoices(app, lic) == [("royalty", 40_000, "CNY"), ("royalty", 16_000, "CNY"), ("royalty", 2_000, "USD")]


def test_a_corrected_report_invoices_or_credits_the_difference(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    lic = tiered_license(app, ownership)
    first = q(app, lic, 1, ReportLine("cell", "CN", "CNY", 800_000))  # 400.00
    up = q(app, lic, 1, ReportLine("cell", "CN", "CNY", 1_200_000), supersedes=first)  # 500.00 + 60.00 = 560.00
    q(app, lic, 1, ReportLine("cell", "CN", "CNY", 200_000), supersedes=up)  # 100.00: credit 460.00
    assert invoices(app, lic) == [("royalty", 40_000, "CNY"), ("royalty", 16_000, "CNY")]
    account = app.get_account(FINANCE, lic)
    assert [c.amount for c in account.credits.values()] == [46_000]
    assert sum(i.open_amount for i in account.invoices.values()) == 10_000  # the 100.00 now due
    ledger = app.get_royalty_ledger(FINANCE, lic)
    assert ledger.booked == {"CNY": 10_000}
    with pytest.raises(Conflict):
        q(app, lic, 1, ReportLine("cell", "CN", "CNY", 1), supersedes=first)  # already superseded


def test_overlapping_periods_and_lines_outside_the_license_are_rejected(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    lic = tiered_license(app, ownership)
    q(app, lic, 1, no_sales=True)
    with pytest.raises(Conflict):
        app.submit_royalty_report(FINANCE, lic, date(2025, 3, 1), date(2025, 4, 30), [], no_sales=True)
    bad_lines = [
        ReportLine("cell", "DE", "CNY", 1),  # territory
        ReportLine("cell", "CN", "CNY", 1, field_of_use="robots"),  # field
        ReportLine("cell", "CN", "EUR", 1),  # currency not agreed
        ReportLine("cell", "CN", "CNY", 1, 2),  # deductions above gross
    ]
    for line in bad_lines:
        with pytest.raises(DomainError):
            q(app, lic, 2, line)
    with pytest.raises(DomainError):  # outside the term
        app.submit_royalty_report(FINANCE, lic, date(2028, 1, 1), date(2028, 3, 31), [], no_sales=True)
    assert invoices(app, lic) == []


def test_a_report_line_names_an_assigned_country_even_under_a_worldwide_license(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=10_000)
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], "non_exclusive", 500, effective_date=D)
    assert app.get_license(FINANCE, lic).territory == {"WORLDWIDE"}
    for country in ("WW", "XX"):
        with pytest.raises(DomainError, match=f"not an ISO 3166-1 alpha-2 country code: {country}"):
            app.submit_royalty_report(
                FINANCE, lic, D, date(2025, 3, 31), [ReportLine("cell", country, "CNY", 1)], effective_date=D
            )
    app.submit_royalty_report(FINANCE, lic, D, date(2025, 3, 31), [ReportLine("cell", "br", "CNY", 1)])


def test_zero_sales_then_the_minimum_true_up(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    lic = tiered_license(app, ownership)
    q(app, lic, 1, no_sales=True)
    q(app, lic, 2, ReportLine("cell", "CN", "CNY", 600_000))  # 300.00
    q(app, lic, 3, ReportLine("cell", "US", "USD", 5_000_000))  # USD does not count towards a CNY minimum
    with pytest.raises(Conflict):
        app.true_up_minimum_royalty(FINANCE, lic, 1, date(2025, 12, 31))  # the year has not ended
    assert app.true_up_minimum_royalty(FINANCE, lic, 1, date(2026, 1, 2)) == Money(70_000, "CNY")
    assert app.true_up_minimum_royalty(FINANCE, lic, 1, date(2026, 1, 3)) is None  # nothing changed
    # A late Q4 report crosses the tier: 4,000.00 x 5% + 2,000.00 x 3% = 260.00 more in year 1,
    # so the year's royalty is 560.00 and the true-up falls from 700.00 to 440.00.
    q(app, lic, 4, ReportLine("cell", "CN", "CNY", 600_000))
    assert app.true_up_minimum_royalty(FINANCE, lic, 1, date(2026, 2, 1)) == Money(-26_000, "CNY")
    assert invoices(app, lic)[-2:] == [("minimum_true_up", 70_000, "CNY"), ("royalty", 26_000, "CNY")]


def test_upfront_fee_is_invoiced_on_grant_and_milestones_once(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=10_000)
    terms = RoyaltyTerms(currency="USD", upfront_fee=1_000_000, milestones=(Milestone("FDA approval", 500_000),))
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], terms=terms, effective_date=D)
    app.report_milestone(member(UNIVERSITY), lic, "FDA approval", date(2025, 5, 1))
    with pytest.raises(Conflict):
        app.report_milestone(FINANCE, lic, "FDA approval", date(2025, 5, 2))
    with pytest.raises(DomainError):
        app.report_milestone(FINANCE, lic, "unheard of", date(2025, 5, 2))
    assert invoices(app, lic) == [("upfront", 1_000_000, "USD"), ("milestone", 500_000, "USD")]


# -- payments and receivables ------------------------------------------------------------


def test_payment_matching_and_ageing(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    a = asset(ownership, university=10_000)
    terms = RoyaltyTerms(currency="CNY", upfront_fee=100_000, annual_maintenance_fee=30_000)
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], terms=terms, effective_date=D)  # due 2025-01-31
    app.invoice_maintenance_fee(FINANCE, lic, 1, date(2025, 3, 1))  # due 2025-03-31
    app.record_payment(FINANCE, lic, 60_000, "CNY", date(2025, 2, 10), "BANK-1")  # partial
    report = app.receivables(AUDITOR, date(2025, 5, 15))
    assert [(r.kind.value, r.open_amount.amount, r.bucket) for r in report.lines] == [
        ("upfront", 40_000, "90+"),
        ("maintenance", 30_000, "30"),
    ]
    assert report.totals == {"CNY": {"current": 0, "30": 30_000, "60": 0, "90+": 40_000}}
    app.record_payment(FINANCE, lic, 100_000, "CNY", date(2025, 5, 20), "BANK-2")  # over-payment
    report = app.receivables(FINANCE, date(2025, 5, 21), [lic])
    assert (report.lines, report.unapplied_cash) == ([], {"CNY": 30_000})
    with pytest.raises(Conflict):
        app.invoice_maintenance_fee(FINANCE, lic, 1, date(2025, 6, 1))  # once per year


def test_access_rules(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    a = asset(ownership, university=10_000)
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], "non_exclusive", 500, effective_date=D)
    with pytest.raises(Forbidden):
        app.record_payment(member(UNIVERSITY), lic, 1, "CNY", D, "X")  # finance records payments
    with pytest.raises(Forbidden):
        app.record_payment(AUDITOR, lic, 1, "CNY", D, "X")
    with pytest.raises(Forbidden):
        app.get_license(member(INSTITUTE), lic)  # not an owner
    with pytest.raises(Forbidden):
        app.submit_royalty_report(member(INSTITUTE), lic, D, date(2025, 3, 31), no_sales=True)
    with pytest.raises(Forbidden):
        app.receivables(member(UNIVERSITY))
    assert app.get_license(AUDITOR, lic).licensee == "Acme"
    app.submit_royalty_report(member(UNIVERSITY), lic, D, date(2025, 3, 31), no_sales=True)
    assert [x.id for x in app.licenses_on_asset(member(UNIVERSITY), a)] == [lic]


def test_after_a_sale_out_of_the_membership_finance_still_reads_and_former_owners_too(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=6_000, institute=4_000)
    lic = app.grant_license(
        member(UNIVERSITY), "Acme", [a], "non_exclusive", 500, end_date=date(2027, 12, 31), effective_date=D
    )
    ownership.set(a, {}, since=date(2025, 6, 1))  # OwnershipAssignedOut: nobody owns it any more
    # Finance, auditors and admins read regardless of who owns the assets today.
    for reader in (FINANCE, AUDITOR, CommandContext(Principal(Role.ADMIN, "ada"))):
        assert app.get_license(reader, lic).id == lic
        assert app.get_royalty_ledger(reader, lic).reports == {}
        assert app.get_account(reader, lic).license_id == lic
        assert [x.id for x in app.licenses_on_asset(reader, a)] == [lic]
    # Finance still records what the licensee reports for the time the members owned it.
    app.submit_royalty_report(FINANCE, lic, D, date(2025, 3, 31), no_sales=True, effective_date=date(2025, 4, 5))
    # A member that owned an asset during the term keeps reading the license, its reports and account.
    for former in (UNIVERSITY, INSTITUTE):
        assert app.get_license(member(former), lic).id == lic
        assert len(app.get_royalty_ledger(member(former), lic).reports) == 1
        assert [x.id for x in app.licenses_on_asset(member(former), a)] == [lic]
    with pytest.raises(Forbidden):
        app.get_license(member(ENTERPRISE), lic)  # never an owner
    with pytest.raises(Forbidden):
        app.licenses_on_asset(member(ENTERPRISE), a)
    with pytest.raises(Forbidden):  # writes still need an owner on the day
        app.submit_royalty_report(member(UNIVERSITY), lic, date(2025, 7, 1), date(2025, 9, 30), no_sales=True)


def test_an_owner_after_the_term_reads_only_while_it_owns_the_asset(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=10_000)
    ended = app.grant_license(
        member(UNIVERSITY), "Acme", [a], "non_exclusive", 500, end_date=date(2025, 3, 31), effective_date=D
    )
    ownership.set(a, {ENTERPRISE: 10_000}, since=date(2025, 6, 1))  # bought after the term
    assert app.get_license(member(ENTERPRISE), ended).id == ended  # owns the asset today
    assert app.get_license(member(UNIVERSITY), ended).id == ended  # granted it and owned it during the term
    ownership.set(a, {INSTITUTE: 10_000}, since=date(2025, 9, 1))
    with pytest.raises(Forbidden):
        app.get_license(member(ENTERPRISE), ended)  # owned it neither during the term nor today


def test_bulk_csv_upload_is_all_or_nothing(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    lic = tiered_license(app, ownership)
    bad = "product,country,currency,gross_sales,deductions\ncell,CN,CNY,8000.00,0\ncell,DE,CNY,10.00,0\n"
    with pytest.raises(DomainError) as caught:
        app.import_royalty_report_csv(FINANCE, lic, D, date(2025, 3, 31), bad, effective_date=date(2025, 4, 1))
    assert caught.value.details["errors"] == [
        {"row": 3, "column": "country", "message": "sales outside the licensed territory"}
    ]
    assert app.get_royalty_ledger(FINANCE, lic).reports == {}
    good = bad.replace("DE", "US").replace("US,CNY", "US,USD")
    app.import_royalty_report_csv(FINANCE, lic, D, date(2025, 3, 31), good, effective_date=date(2025, 4, 1))
    assert invoices(app, lic) == [("royalty", 40_000, "CNY"), ("royalty", 40, "USD")]


# -- assignments -------------------------------------------------------------------------


def test_an_assignment_needs_every_owner_then_requests_the_transfer(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=7_000, institute=3_000)
    sale = app.propose_assignment(member(UNIVERSITY), a, "Buyer Ltd", 2_000_000, "CNY", effective_date=D)
    with pytest.raises(NotFound):
        app.record_payment(FINANCE, sale, 2_000_000, "CNY", D, "BUYER")  # nothing to pay before agreement
    app.consent_to_assignment(member(INSTITUTE), sale, effective_date=date(2025, 1, 5))
    app.record_payment(FINANCE, sale, 2_000_000, "CNY", date(2025, 1, 20), "BUYER")
    events = published(app)
    [transfer] = [e for e in events if isinstance(e, Assignment.OwnershipTransferRequested)]
    assert (transfer.asset_id, transfer.assignee, transfer.effective_date) == (a, "Buyer Ltd", date(2025, 1, 5))
    assert transfer.from_owners == [
        {"member_id": str(UNIVERSITY), "share_bps": 7_000},
        {"member_id": str(INSTITUTE), "share_bps": 3_000},
    ]
    [revenue] = [e for e in events if isinstance(e, LicenseAccount.RevenueReceived)]
    assert (revenue.kind, revenue.license_id, revenue.asset_ids) == ("assignment", sale, [a])


def test_a_cross_license_carries_no_cash(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    a = asset(ownership, university=10_000)
    with pytest.raises(DomainError):
        app.grant_license(member(UNIVERSITY), "Peer", [a], royalty_rate_bps=100, cross_license_assets=["CN123"])
    lic = app.grant_license(member(UNIVERSITY), "Peer", [a], cross_license_assets=["CN123"], effective_date=D)
    assert app.get_license(FINANCE, lic).is_cross_license
    assert app.get_account(FINANCE, lic).invoices == {}


def test_receivables_as_of_a_past_day_and_as_known_at_a_time(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a = asset(ownership, university=10_000)
    terms = RoyaltyTerms(currency="CNY", upfront_fee=100_000)
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a], terms=terms, effective_date=date(2025, 10, 1))
    app.record_payment(FINANCE, lic, 30_000, "CNY", date(2025, 11, 15), "BANK-1")
    printed = datetime.now(UTC)
    app.record_payment(FINANCE, lic, 20_000, "CNY", date(2025, 12, 20), "BANK-2")  # recorded late
    app.record_payment(FINANCE, lic, 50_000, "CNY", date(2026, 1, 15), "BANK-3")
    year_end = app.receivables(FINANCE, date(2025, 12, 31), [lic])
    assert [(r.reference, r.open_amount.amount, r.bucket) for r in year_end.lines] == [("upfront", 50_000, "60")]
    as_printed = app.receivables(FINANCE, date(2025, 12, 31), [lic], known_at=printed)
    assert [r.open_amount.amount for r in as_printed.lines] == [70_000]
    before_anything = app.receivables(FINANCE, date(2025, 12, 31), [lic], known_at=datetime(2020, 1, 1))
    assert (before_anything.lines, before_anything.unapplied_cash) == ([], {})
    assert app.receivables(FINANCE, date(2026, 1, 31), [lic]).lines == []


def test_a_report_shows_its_royalty_per_currency_and_tier_and_what_it_booked(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    lic = tiered_license(app, ownership)
    q(app, lic, 1, ReportLine("cell", "CN", "CNY", 800_000))  # 400.00
    second = q(app, lic, 2, ReportLine("cell", "CN", "CNY", 400_000), ReportLine("cell", "US", "USD", 50_000))
    view = app.royalty_report(FINANCE, lic, second)
    cny, usd = view.royalty
    assert (cny.currency, cny.sales_before, cny.net_sales, cny.royalty) == ("CNY", 800_000, 400_000, 16_000)
    assert [(t.threshold, t.rate_bps, t.net_sales, t.royalty) for t in cny.tiers] == [
        (0, 500, 200_000, 10_000),
        (1_000_000, 300, 200_000, 6_000),
    ]
    assert (usd.currency, usd.royalty) == ("USD", 2_000)
    account = app.get_account(FINANCE, lic)
    assert [(b.currency, b.amount) for b in view.booked] == [("CNY", 16_000), ("USD", 2_000)]
    assert [account.invoices[b.invoice_id].amount for b in view.booked if b.invoice_id] == [16_000, 2_000]
    # A correction of Q2 downwards: credited against Q2's invoice; Q2 shows as superseded, with no royalty.
    fixed = q(app, lic, 2, ReportLine("cell", "CN", "CNY", 100_000), supersedes=second)
    views = {v.report.report_id: v for v in app.royalty_reports(FINANCE, lic)}
    assert (views[second].superseded, views[second].royalty) == (True, [])
    assert [(b.currency, b.amount, b.invoice_id) for b in views[fixed].booked] == [
        ("CNY", -11_000, None),
        ("USD", -2_000, None),
    ]
    credits = app.get_account(FINANCE, lic).credits
    assert [credits[b.credit_note_id].amount for b in views[fixed].booked if b.credit_note_id] == [11_000, 2_000]
    assert [(r.currency, r.royalty) for r in views[fixed].royalty] == [("CNY", 5_000)]


def test_a_report_straddling_two_license_years_counts_in_each_by_days(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    lic = tiered_license(app, ownership)  # license years from 1 January; minimum 1,000.00 a year
    day = date(2026, 3, 10)
    app.submit_royalty_report(FINANCE, lic, D, date(2025, 11, 30), [ReportLine("cell", "CN", "CNY", 1_000_000)])
    # 1 December to 28 February: 90 days, 31 of them in year 1; 60,000.00 x 3% = 1,800.00
    straddling = [ReportLine("cell", "CN", "CNY", 6_000_000)]
    app.submit_royalty_report(FINANCE, lic, date(2025, 12, 1), date(2026, 2, 28), straddling, effective_date=day)
    # Year 1: 500.00 + 1,800.00 x 31/90 = 500.00 + 620.00, above the minimum: no true-up.
    assert app.true_up_minimum_royalty(FINANCE, lic, 1, day) is None
    ledger = app.get_royalty_ledger(FINANCE, lic)
    assert [e.royalty for e in ledger.collect_events() if isinstance(e, type(ledger).MinimumTrueUpAssessed)] == []


def test_a_receipt_is_recorded_in_one_call_and_unapplied_cash_is_shown_and_warned(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    a, b = asset(ownership, university=10_000), asset(ownership, university=10_000)
    terms = RoyaltyTerms(currency="CNY", upfront_fee=100_000, asset_split_bps={str(a): 7_000, str(b): 3_000})
    lic = app.grant_license(member(UNIVERSITY), "Acme", [a, b], terms=terms, effective_date=D)
    # 1,500.00 received: 1,000.00 pays the upfront invoice, 500.00 is a milestone nobody invoiced.
    outcome = app.record_receipt(FINANCE, lic, 150_000, "CNY", date(2025, 2, 1), "BANK-1", uninvoiced_kind="milestone")
    assert [(p.kind.value, p.amount) for p in outcome.applied] == [("upfront", 100_000), ("milestone", 50_000)]
    assert (outcome.unapplied, outcome.warnings) == (0, [])
    assert outcome.invoice_id is not None
    account = app.get_account(FINANCE, lic)
    raised = account.invoices[outcome.invoice_id]
    assert (raised.kind.value, raised.amount, raised.open_amount, raised.issued_on) == (
        "milestone",
        50_000,
        0,
        date(2025, 2, 1),
    )
    stored = app.events.get(LicenseAccount.create_id(lic))
    revenue = [e for e in stored if isinstance(e, LicenseAccount.RevenueReceived)]
    assert [(e.kind, e.amount["amount"]) for e in revenue] == [("upfront", 100_000), ("milestone", 50_000)]
    split = {s["asset_id"]: s["amount"]["amount"] for s in revenue[1].asset_splits}
    assert split == {str(a): 35_000, str(b): 15_000}  # the terms' split
    # Without a kind, what no invoice awaits stays unapplied: the answer warns, the receivables list it.
    left = app.record_receipt(FINANCE, lic, 20_000, "CNY", date(2025, 3, 1), "BANK-2")
    assert (left.applied, left.invoice_id, left.unapplied) == ([], None, 20_000)
    assert "not revenue" in left.warnings[0]
    assert app.payment_outcome(FINANCE, lic, left.payment_id).warnings == left.warnings
    report = app.receivables(FINANCE, date(2025, 3, 31), [lic])
    assert [(c.payment_id, c.amount, c.payer_reference) for c in report.unapplied] == [
        (left.payment_id, Money(20_000, "CNY"), "BANK-2")
    ]
    assert app.receivables(FINANCE, date(2025, 2, 28), [lic]).unapplied == []
    with pytest.raises(DomainError, match="unknown revenue kind"):
        app.record_receipt(FINANCE, lic, 1, "CNY", D, "X", uninvoiced_kind="gift")
    with pytest.raises(Forbidden):
        app.record_receipt(member(UNIVERSITY), lic, 1, "CNY", D, "X", uninvoiced_kind="milestone")


# -- snapshots (SNAPSHOT_INTERVAL) ----------------------------------------------------------


def _replayed(app: CommercializationApplication, aggregate_id: uuid.UUID) -> dict[str, Any]:
    """The aggregate's state from all of its events, no snapshot."""
    aggregate: Any = None
    for stored in app.events.get(aggregate_id):
        aggregate = stored.mutate(aggregate)  # type: ignore[attr-defined]
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def test_license_accounts_and_royalty_ledgers_are_snapshotted_and_loaded_from_the_snapshot(
    event_store_env: dict[str, str], ownership: FakeOwnership, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = CommercializationApplication(env=event_store_env, ownership=ownership, reads=ownership, snapshot_interval=3)
    try:
        lic = tiered_license(app, ownership)
        first = q(app, lic, 1, ReportLine("cell", "CN", "CNY", 900_000, 100_000))
        q(app, lic, 2, ReportLine("cell", "CN", "CNY", 400_000), ReportLine("cell", "US", "USD", 50_000))
        q(app, lic, 1, ReportLine("cell", "CN", "CNY", 700_000), supersedes=first)
        for month in (5, 6, 7):
            app.record_payment(FINANCE, lic, 10_000, "CNY", date(2025, month, 1), f"BANK-{month}")
        app.true_up_minimum_royalty(FINANCE, lic, 1, date(2026, 1, 5))
        account_id, ledger_id = LicenseAccount.create_id(lic), RoyaltyLedger.create_id(lic)
        assert app.snapshots is not None
        snapshots = {i: [s.originator_version for s in app.snapshots.get(i)] for i in (account_id, ledger_id)}
        assert snapshots[account_id]
        assert snapshots[ledger_id]
        assert all(v % 3 == 0 for versions in snapshots.values() for v in versions)
        replayed = {i: _replayed(app, i) for i in (account_id, ledger_id)}
        read_from: list[int | None] = []
        get = app.repository.event_store.get

        def counted_get(**kw: Any) -> Any:
            read_from.append(kw.get("gt"))
            return get(**kw)

        monkeypatch.setattr(app.repository.event_store, "get", counted_get)
        for aggregate_id in (account_id, ledger_id):
            loaded = app.repository.get(aggregate_id)
            assert {k: v for k, v in vars(loaded).items() if k != "_pending_events"} == replayed[aggregate_id]
        assert read_from == [max(snapshots[account_id]), max(snapshots[ledger_id])]  # only the events after them
        assert app.royalty_reports(FINANCE, lic)[-1].booked  # the use cases read them as before
    finally:
        app.close()


def test_no_snapshot_without_an_interval(app: CommercializationApplication, ownership: FakeOwnership) -> None:
    lic = tiered_license(app, ownership)
    for month in (2, 3, 4, 5):
        app.record_payment(FINANCE, lic, 1_000, "CNY", date(2025, month, 1), f"BANK-{month}")
    assert app.snapshots is None


def test_a_correction_after_payment_takes_the_revenue_back_for_revenue_share(
    app: CommercializationApplication, ownership: FakeOwnership
) -> None:
    lic = tiered_license(app, ownership)
    first = q(app, lic, 1, ReportLine("cell", "CN", "CNY", 800_000))  # 400.00 invoiced
    app.record_payment(FINANCE, lic, 40_000, "CNY", date(2025, 4, 20), "BANK-1")
    q(app, lic, 1, ReportLine("cell", "CN", "CNY", 500_000), supersedes=first)  # 250.00: 150.00 back
    [refund] = [e for e in published(app) if isinstance(e, LicenseAccount.RevenueRefunded)]
    assert (refund.kind, refund.amount, refund.effective_date) == (
        "royalty", {"amount": 15_000, "currency": "CNY"}, date(2025, 4, 10)
    )  # fmt: skip
    envelope = build_catalog().payload(refund)
    assert (type(envelope).__name__, envelope.amount.amount) == ("RevenueRefunded", 15_000)
    account = app.get_account(FINANCE, lic)
    assert (account.unapplied_cash(), account.unused_credit()) == ({"CNY": 15_000}, {})


def test_a_service_acts_for_no_member_and_an_admin_names_one() -> None:
    member = uuid.uuid4()
    with pytest.raises(Forbidden):
        acting_member(Principal(Role.SERVICE, "commercialization"), member)
    assert acting_member(Principal(Role.ADMIN, "ada"), member) == member
