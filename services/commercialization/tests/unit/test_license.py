"""The License aggregate on its own: lifecycle and consent, no store."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, UUIDAsHex

from commercialization.domain.license import License, LicenseStatus
from commercialization.domain.terms import Milestone, RoyaltyTerms, Tier
from ipshare.eventstore import DateAsISO, MetadataMapper
from ipshare_kernel.errors import Conflict, DomainError, Forbidden

UNIV, INST = uuid.UUID(int=1), uuid.UUID(int=2)
ASSET = uuid.UUID(int=10)
D = date(2025, 1, 1)


def draft(license_type: str = "exclusive", **kw: object) -> License:
    options: dict[str, object] = {
        "licensee": "Acme", "asset_ids": [ASSET], "license_type": license_type, "start_date": D,
        "terms": RoyaltyTerms.flat("CNY", 500), "granted_by": UNIV, "effective_date": D,
    }  # fmt: skip
    options.update(kw)
    return License.draft(**options)  # type: ignore[arg-type]


def status(lic: License) -> LicenseStatus:
    return lic.status  # read through a call so the type checker does not narrow it across commands


def test_lifecycle_draft_pending_active_terminated() -> None:
    lic = draft()
    assert status(lic) is LicenseStatus.DRAFT
    lic.submit({ASSET: {UNIV: 5_000, INST: 5_000}}, D)
    assert (lic.status, lic.missing_consents) == (LicenseStatus.PENDING_CONSENT, [INST])
    lic.consent(INST, date(2025, 1, 2))
    assert status(lic) is LicenseStatus.ACTIVE
    lic.terminate("breach", date(2025, 6, 30))
    assert (lic.status, lic.last_day) == (LicenseStatus.TERMINATED, date(2025, 6, 30))
    with pytest.raises(Conflict):
        lic.terminate("again", date(2025, 7, 1))
    names = [type(e).__name__ for e in lic.collect_events()]
    assert names == ["Drafted", "ConsentRequested", "ConsentGiven", "ConsentGiven", "Granted", "Terminated"]


def test_amendments_take_effect_from_their_date() -> None:
    lic = draft("non_exclusive")
    lic.submit({ASSET: {UNIV: 10_000}}, D)
    new_terms = RoyaltyTerms.flat("CNY", 700)
    lic.amend(date(2025, 7, 1), end_date=None, field_of_use="all fields", territory=["WORLDWIDE"], terms=new_terms)
    assert lic.terms_on(date(2025, 6, 30)).running_royalty == {"CNY": (Tier(0, 500),)}
    assert lic.terms_on(date(2025, 7, 1)) == new_terms


def test_an_exclusive_license_of_two_co_owners_is_amended_once_both_consent() -> None:
    lic = draft()
    lic.submit({ASSET: {UNIV: 5_000, INST: 5_000}}, D)
    lic.consent(INST, D)
    scope = {"end_date": date(2030, 12, 31), "field_of_use": "cells", "fields": ["H01M 10/052"], "territory": None,
             "terms": lic.terms}  # fmt: skip
    assert lic.amend(date(2025, 7, 1), **scope, proposed_by=UNIV, co_owners=[UNIV, INST]) is False  # type: ignore[arg-type]
    assert (lic.field_of_use, lic.amendment_missing_consents) == ("all fields", [INST])
    assert lic.consent_to_amendment(INST, date(2025, 6, 20)) is True
    assert (lic.field_of_use, lic.end_date, lic.proposed_amendment) == ("cells", date(2030, 12, 31), None)
    names = [type(e).__name__ for e in lic.collect_events()][-4:]
    assert names == ["AmendmentProposed", "AmendmentConsentGiven", "AmendmentConsentGiven", "Amended"]
    assert lic.amend(date(2025, 8, 1), **scope, proposed_by=INST, co_owners=[UNIV, INST]) is False  # type: ignore[arg-type]
    lic.terminate("breach", date(2025, 9, 30))
    assert lic.proposed_amendment is None  # a license that has ended has nothing left to amend
    with pytest.raises(Conflict):
        lic.consent_to_amendment(UNIV, date(2025, 10, 1))


def test_a_draft_is_validated() -> None:
    with pytest.raises(DomainError):
        draft(asset_ids=[])
    with pytest.raises(DomainError):
        draft(end_date=date(2024, 12, 31))
    with pytest.raises(DomainError):
        draft(license_type="semi-exclusive")
    with pytest.raises(DomainError):
        draft(licensee_kind="spin_off")  # without the spin-off id
    with pytest.raises(DomainError):
        draft(terms=RoyaltyTerms("CNY", running_royalty={"CNY": (Tier(100, 500),)}))  # no tier at 0
    with pytest.raises(DomainError):
        draft(terms=RoyaltyTerms("CNY", asset_split_bps={str(ASSET): 9_000}))  # split not 100%


def test_the_granter_must_co_own_every_asset() -> None:
    other = uuid.UUID(int=11)
    lic = draft("non_exclusive", asset_ids=[ASSET, other])
    with pytest.raises(Forbidden):
        lic.submit({ASSET: {UNIV: 10_000}, other: {INST: 10_000}}, D)


def test_terms_round_trip_through_events() -> None:
    terms = RoyaltyTerms(
        currency="USD", upfront_fee=1, annual_maintenance_fee=2,
        running_royalty={"USD": (Tier(0, 500), Tier(100, 300)), "EUR": (Tier(0, 100),)},
        minimum_annual_royalty=3, milestones=(Milestone("m", 4),), sublicense_share_bps=5,
        patent_cost_reimbursement=True, asset_split_bps={str(ASSET): 10_000}, payment_days=45,
    )  # fmt: skip
    assert RoyaltyTerms.from_event_dict(terms.as_event_dict()) == terms


def test_a_license_recorded_before_fields_had_codes_is_read_with_its_free_text_field() -> None:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    mapper = MetadataMapper(transcoder=transcoder)
    lic = License.draft(
        licensee="Acme", asset_ids=[ASSET], license_type="exclusive", start_date=date(2025, 1, 1),
        terms=RoyaltyTerms(currency="CNY"), granted_by=UNIV, effective_date=date(2025, 1, 1),
        field_of_use="batteries", fields=["H01M"],
    )  # fmt: skip
    stored = mapper.to_stored_event(lic.collect_events()[0])
    state = transcoder.decode(stored.state)
    del state["fields"], state["class_version"]  # as a version-1 event was stored
    old = type(stored)(stored.originator_id, stored.originator_version, stored.topic, transcoder.encode(state))
    drafted = mapper.to_domain_event(old)
    assert isinstance(drafted, License.Drafted)
    assert drafted.fields == []
    assert drafted.field_of_use == "batteries"
