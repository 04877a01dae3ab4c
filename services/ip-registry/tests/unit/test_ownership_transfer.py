"""Assignments agreed in commercialization, carried out once per request id."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from ip_registry.domain.ownership_transfer import TransferRequest
from ipshare_kernel.errors import AlreadyExists, Conflict, DomainError, Forbidden

from .conftest import ADMIN, Center, as_member
from .test_application import co_owned

SERVICE_DAY = date(2024, 7, 1)


def co_owned_asset(center: Center) -> uuid.UUID:
    """Owned 60/40 by uni and corp since 2021-03-01."""
    asset_id = center.app.register_asset(
        as_member(center.uni), co_owned(center, ownership_effective_date=date(2021, 3, 1))
    )
    center.app.confirm_co_ownership(as_member(center.corp), asset_id, center.corp)
    return asset_id


def sale(center: Center, asset_id: uuid.UUID, buyer: uuid.UUID | None, request_id: str = "sale-1") -> TransferRequest:
    return TransferRequest(request_id, asset_id, {center.uni: 6000, center.corp: 4000}, "Buyer Ltd", buyer, SERVICE_DAY)


def test_every_share_moves_to_a_member_buyer_once(center: Center) -> None:
    app = center.app
    asset_id = co_owned_asset(center)
    done = app.transfer_ownership(ADMIN, sale(center, asset_id, center.lab))
    stored = app.recorder.max_notification_id()

    again = app.transfer_ownership(ADMIN, sale(center, asset_id, center.lab))

    assert (done.owners, done.effective_date, done.assigned_out) == ({center.lab: 10_000}, SERVICE_DAY, False)
    assert (again.owners, again.effective_date, again.id) == (done.owners, done.effective_date, done.id)
    assert app.recorder.max_notification_id() == stored  # the repeat stored nothing
    assert app.ownership_as_of(ADMIN, asset_id, SERVICE_DAY) == {center.lab: 10_000}
    assert app.ownership_as_of(ADMIN, asset_id, date(2024, 6, 30)) == {center.uni: 6000, center.corp: 4000}


def test_another_request_under_a_used_id_is_refused(center: Center) -> None:
    app = center.app
    asset_id = co_owned_asset(center)
    app.transfer_ownership(ADMIN, sale(center, asset_id, center.lab))
    with pytest.raises(AlreadyExists, match="already used"):
        app.transfer_ownership(ADMIN, sale(center, asset_id, None))


def test_an_id_used_by_a_share_transfer_is_refused(center: Center) -> None:
    app = center.app
    asset_id = co_owned_asset(center)
    app.transfer_shares(
        ADMIN, asset_id, from_member_id=center.uni, to_member_id=center.lab, share_bps=1,
        effective_date=date(2023, 1, 1), request_id="sale-1",
    )  # fmt: skip
    with pytest.raises(AlreadyExists):
        app.transfer_ownership(ADMIN, sale(center, asset_id, center.lab))


def test_a_buyer_outside_the_membership_ends_the_members_ownership(center: Center) -> None:
    app = center.app
    asset_id = co_owned_asset(center)
    done = app.transfer_ownership(ADMIN, sale(center, asset_id, None))

    assert (done.owners, done.assigned_out) == ({}, True)
    asset = app.get_asset(ADMIN, asset_id)
    assert (asset.ownership_state, asset.owners, asset.status.value) == ("assigned_out", {}, "filed")
    assert app.ownership_as_of(ADMIN, asset_id, SERVICE_DAY) == {}
    assert app.ownership_as_of(ADMIN, asset_id, date(2024, 6, 30)) == {center.uni: 6000, center.corp: 4000}
    assert [p.cause for p in app.ownership_history(ADMIN, asset_id)] == ["registration", "assignment"]
    with pytest.raises(Conflict, match="assigned out"):
        app.assign_asset(ADMIN, asset_id, to_member_id=center.lab, effective_date=date(2025, 1, 1))


def test_owners_other_than_those_who_agreed_are_a_conflict(center: Center) -> None:
    app = center.app
    asset_id = co_owned_asset(center)
    app.transfer_shares(
        ADMIN, asset_id, from_member_id=center.uni, to_member_id=center.lab, share_bps=1000,
        effective_date=date(2023, 1, 1),
    )  # fmt: skip
    stored = app.recorder.max_notification_id()
    with pytest.raises(Conflict, match="owners changed") as caught:
        app.transfer_ownership(ADMIN, sale(center, asset_id, center.lab))
    assert len(caught.value.details["current"]) == 3
    assert app.recorder.max_notification_id() == stored


def test_only_admins_and_services_transfer_and_only_to_admitted_members(center: Center) -> None:
    app = center.app
    asset_id = co_owned_asset(center)
    with pytest.raises(Forbidden):
        app.transfer_ownership(as_member(center.uni), sale(center, asset_id, center.lab))
    with pytest.raises(DomainError, match="not admitted"):
        app.transfer_ownership(ADMIN, sale(center, asset_id, uuid.uuid4()))
    with pytest.raises(DomainError, match="request id"):
        sale(center, asset_id, center.lab, request_id=" ")
