"""The use cases end to end, over the in-memory store and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from ip_registry.domain.commands import AssetRegistration, InventorClaim
from ip_registry.domain.lifecycle import AssetStatus
from ipshare.error_status import http_status
from ipshare_kernel.errors import Conflict, DomainError, Forbidden, NotFound
from ipshare_kernel.money import Money

from .conftest import ADMIN, TODAY, Center, as_member, credit_code


def co_owned(c: Center, **overrides: object) -> AssetRegistration:
    fields: dict[str, object] = {
        "title": "Laser sintering of titanium lattices",
        "kind": "invention_patent",
        "jurisdiction": "CN",
        "registered_by": c.uni,
        "owners": {c.uni: 6000, c.corp: 4000},
        "inventors": [InventorClaim(c.alice, 7000), InventorClaim(c.bob, 3000)],
        "application_number": "202110012345.9",
        "status": "filed",
        "filing_date": date(2021, 3, 1),
        "disclosure_date": date(2021, 1, 15),
        "technology_field": "additive manufacturing",
    }
    fields.update(overrides)
    return AssetRegistration(**fields)  # type: ignore[arg-type]


def test_co_owned_asset_counts_only_once_every_co_owner_confirmed(center: Center) -> None:
    app = center.app
    asset_id = app.register_asset(as_member(center.uni), co_owned(center))

    asset = app.get_asset(ADMIN, asset_id)
    assert asset.ownership_state == "pending"
    assert asset.owners == {}
    assert app.ownership_as_of(ADMIN, asset_id, date(2030, 1, 1)) == {}

    app.confirm_co_ownership(as_member(center.corp), asset_id, center.corp, date(2024, 5, 20))

    asset = app.get_asset(as_member(center.corp), asset_id)
    assert asset.ownership_state == "effective"
    assert asset.owners == {center.uni: 6000, center.corp: 4000}
    # No date named: effective on the day the last co-owner confirmed.
    assert app.ownership_as_of(ADMIN, asset_id, date(2024, 5, 19)) == {}
    assert app.ownership_as_of(ADMIN, asset_id, date(2024, 5, 20)) == {center.uni: 6000, center.corp: 4000}
    assert [i.affiliation_member_id for i in asset.inventors] == [center.uni, center.corp]
    assert [i.name for i in asset.inventors] == ["Alice", "Bob"]


def test_sole_owner_registration_is_effective_at_once_on_the_named_date(center: Center) -> None:
    registration = co_owned(center, owners={center.uni: 10000}, ownership_effective_date=date(2021, 3, 1))
    asset_id = center.app.register_asset(as_member(center.uni), registration)
    assert center.app.ownership_as_of(ADMIN, asset_id, date(2021, 3, 1)) == {center.uni: 10000}
    assert center.app.ownership_as_of(ADMIN, asset_id, date(2021, 2, 28)) == {}


def test_a_declined_ownership_never_counts_and_can_be_proposed_again(center: Center) -> None:
    app = center.app
    asset_id = app.register_asset(as_member(center.uni), co_owned(center))
    app.decline_co_ownership(as_member(center.corp), asset_id, center.corp, "we paid for all of it")
    assert app.get_asset(ADMIN, asset_id).ownership_state == "declined"
    with pytest.raises(Conflict, match="declined"):
        app.confirm_co_ownership(as_member(center.corp), asset_id, center.corp)

    app.propose_ownership(as_member(center.uni), asset_id, {center.uni: 3000, center.corp: 7000})
    app.confirm_co_ownership(as_member(center.corp), asset_id, center.corp)
    assert app.ownership_as_of(ADMIN, asset_id, TODAY) == {center.uni: 3000, center.corp: 7000}


def test_transfers_are_effective_dated_and_backdating_is_recorded(center: Center) -> None:
    app = center.app
    registration = co_owned(center, ownership_effective_date=date(2021, 3, 1))
    asset_id = app.register_asset(as_member(center.uni), registration)
    app.confirm_co_ownership(as_member(center.corp), asset_id, center.corp)

    done = app.transfer_shares(
        ADMIN, asset_id, from_member_id=center.uni, to_member_id=center.lab, share_bps=1000,
        effective_date=date(2023, 1, 1), request_id="req-1",
    )  # fmt: skip
    again = app.transfer_shares(
        ADMIN, asset_id, from_member_id=center.uni, to_member_id=center.lab, share_bps=1000,
        effective_date=date(2023, 1, 1), request_id="req-1",
    )  # fmt: skip
    assert (done, again) == (True, False)

    history = app.ownership_history(ADMIN, asset_id)
    assert [(p.effective_from, dict(p.shares)) for p in history] == [
        (date(2021, 3, 1), {center.uni: 6000, center.corp: 4000}),
        (date(2023, 1, 1), {center.uni: 5000, center.corp: 4000, center.lab: 1000}),
    ]
    assert app.ownership_as_of(ADMIN, asset_id, date(2022, 12, 31)) == {center.uni: 6000, center.corp: 4000}
    events = list(app.events.get(asset_id))
    transferred = events[-1]
    assert transferred.backdated is True  # type: ignore[attr-defined]
    with pytest.raises(Conflict, match="before the last ownership change"):
        app.transfer_shares(
            ADMIN, asset_id, from_member_id=center.corp, to_member_id=center.lab, share_bps=1,
            effective_date=date(2022, 6, 1),
        )  # fmt: skip

    app.assign_asset(ADMIN, asset_id, to_member_id=center.lab, effective_date=date(2024, 1, 1), request_id="sale")
    assert app.ownership_as_of(ADMIN, asset_id, date(2024, 1, 1)) == {center.lab: 10000}


def test_registration_names_unknown_or_suspended_members_clearly(center: Center) -> None:
    app = center.app
    stranger = uuid.uuid4()
    with pytest.raises(DomainError, match="not admitted members") as caught:
        app.register_asset(as_member(center.uni), co_owned(center, owners={center.uni: 5000, stranger: 5000}))
    assert caught.value.details["unknown_members"] == [str(stranger)]

    app.suspend_member(ADMIN, center.corp, "dues unpaid")
    with pytest.raises(DomainError, match="suspended members"):
        app.register_asset(as_member(center.uni), co_owned(center))
    app.reinstate_member(ADMIN, center.corp, "dues paid")
    assert app.register_asset(as_member(center.uni), co_owned(center))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"application_number": "202110012345.8"}, "expected 9, got 8"),
        ({"application_number": "20211001234.9"}, "12 digits"),
        ({"application_number": "202120012345.4"}, "not for a invention_patent"),
        ({"owners": "shares 6000+3000"}, "sum to 10000"),
        ({"inventors": "contributions 7000+2000"}, "sum to 10000"),
        ({"kind": "trade_secret"}, "unknown asset kind"),
        ({"status": "granted"}, "grant date"),
        ({"filing_date": date(2020, 1, 1)}, "before disclosure_date"),
    ],
)
def test_malformed_registrations_are_refused_with_the_reason(
    center: Center, overrides: dict[str, object], message: str
) -> None:
    overrides = dict(overrides)
    if overrides.get("owners"):
        overrides["owners"] = {center.uni: 6000, center.corp: 3000}
    if overrides.get("inventors"):
        overrides["inventors"] = [InventorClaim(center.alice, 7000), InventorClaim(center.bob, 2000)]
    with pytest.raises(DomainError, match=message) as caught:
        center.app.register_asset(as_member(center.uni), co_owned(center, **overrides))
    assert http_status(caught.value) == 422


def test_the_same_application_cannot_be_registered_twice(center: Center) -> None:
    center.app.register_asset(as_member(center.uni), co_owned(center))
    with pytest.raises(Conflict, match="already registered"):
        center.app.register_asset(as_member(center.uni), co_owned(center))


def test_members_act_only_for_themselves(center: Center) -> None:
    app = center.app
    with pytest.raises(Forbidden):
        app.register_asset(as_member(center.corp), co_owned(center))  # registered_by is uni
    asset_id = app.register_asset(as_member(center.uni), co_owned(center))
    with pytest.raises(Forbidden):
        app.confirm_co_ownership(as_member(center.uni), asset_id, center.corp)
    with pytest.raises(Forbidden):
        app.get_asset(as_member(center.lab), asset_id)
    with pytest.raises(Forbidden):
        app.admit_member(
            as_member(center.uni), name="X", kind="other", state_established=False, credit_code=credit_code(9)
        )
    with pytest.raises(Forbidden):
        app.transfer_shares(
            as_member(center.uni), asset_id, from_member_id=center.uni, to_member_id=center.lab, share_bps=1,
            effective_date=TODAY,
        )  # fmt: skip


def test_lifecycle_inventor_corrections_and_costs(center: Center) -> None:
    app = center.app
    uni = as_member(center.uni)
    asset_id = app.register_asset(uni, co_owned(center, owners={center.uni: 10000}))
    app.publish(uni, asset_id, "CN113000000A", date(2021, 9, 1))
    app.grant(uni, asset_id, "ZL202110012345.9", date(2023, 2, 1), date(2041, 3, 1))
    with pytest.raises(Conflict, match="in state granted cannot become published"):
        app.publish(uni, asset_id, "CN113000000A", date(2023, 3, 1))

    app.correct_inventors(uni, asset_id, [InventorClaim(center.alice, 5000), InventorClaim(center.carol, 5000)], "typo")
    cost_id = app.record_cost(
        uni, asset_id, kind="annuity", amount=Money(90000, "CNY"), paid_by=center.uni, effective_date=date(2024, 3, 1)
    )
    app.end_asset(uni, asset_id, "lapsed", date(2024, 5, 1), "annuity unpaid")

    asset = app.get_asset(ADMIN, asset_id)
    assert asset.status is AssetStatus.LAPSED
    assert [(i.name, i.contribution_bps) for i in asset.inventors] == [("Alice", 5000), ("Carol", 5000)]
    assert len(asset.inventor_history) == 2
    assert [(c.cost_id, c.amount) for c in asset.costs] == [(cost_id, Money(90000, "CNY"))]


def test_unknown_ids_are_not_found(center: Center) -> None:
    with pytest.raises(NotFound):
        center.app.get_asset(ADMIN, uuid.uuid4())
    with pytest.raises(NotFound):
        center.app.get_asset(ADMIN, center.uni)  # a member, not an asset


def test_affiliation_over_time_decides_the_inventors_affiliation(center: Center) -> None:
    app = center.app
    app.change_affiliation(ADMIN, center.alice, center.lab, date(2022, 1, 1))
    asset_id = app.register_asset(as_member(center.uni), co_owned(center, owners={center.uni: 10000}))
    # Invented (disclosed) in January 2021, while Alice was at the university.
    assert app.get_asset(ADMIN, asset_id).inventors[0].affiliation_member_id == center.uni
    assert app.get_researcher(ADMIN, center.alice).member_id == center.lab


def test_member_portfolio_and_listing(center: Center) -> None:
    app = center.app
    uni = as_member(center.uni)
    app.register_asset(uni, co_owned(center, owners={center.uni: 10000}))
    app.register_asset(uni, co_owned(center, title="Jig", kind="know_how", application_number="", status="disclosed",
                                      filing_date=None, owners={center.uni: 10000}))  # fmt: skip
    pending = app.register_asset(uni, co_owned(center, application_number="202110012343.X"))
    assert len(app.list_assets(uni).items) == 3
    assert [a.id for a in app.list_assets(as_member(center.corp)).items] == [pending]

    figures = app.member_portfolio(uni, center.uni, as_of=date(2022, 12, 31))
    assert figures.disclosures == {(2021, "invention_patent"): 1, (2021, "know_how"): 1}
    assert figures.filings == {(2021, "invention_patent"): 1}
    assert figures.active[(2022, "invention_patent")] == 1
