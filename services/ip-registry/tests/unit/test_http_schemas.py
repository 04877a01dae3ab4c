"""The HTTP API's choices are the domain's: every ownership state and cause the domain records is
one the document lists (else the answer would fail its own schema), and the list's `strategic`
filter takes exactly what the listing reads."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, get_args

import pytest

from ip_registry.application import IpRegistryApplication
from ip_registry.domain.listing import STRATEGIC_CHOICES
from ip_registry.domain.ownership_transfer import TransferRequest
from ip_registry.entrypoints import schemas as s
from ipshare.eventstore import persistence_env

from .conftest import ADMIN, Center, as_member
from .test_application import co_owned
from .test_ownership_transfer import SERVICE_DAY, co_owned_asset


@pytest.fixture
def event_store_env() -> dict[str, str]:
    return persistence_env(None)  # the schemas are under test, not the stores


def shown(app: IpRegistryApplication, asset_id: uuid.UUID) -> dict[str, Any]:
    return s.AssetOut.of(app.get_asset(ADMIN, asset_id)).model_dump(mode="json")


def test_the_documented_strategic_filters_are_the_ones_the_list_reads() -> None:
    assert set(get_args(s.StrategicFilter)) == set(STRATEGIC_CHOICES)


def test_every_ownership_state_and_cause_the_domain_records_is_documented(center: Center) -> None:
    app = center.app
    know_how = co_owned(center, kind="know_how", application_number="", status="disclosed", filing_date=None)
    declined = app.register_asset(as_member(center.uni), know_how)
    states = [shown(app, declined)["ownership_state"]]
    app.decline_co_ownership(as_member(center.corp), declined, center.corp, "not ours")
    states.append(shown(app, declined)["ownership_state"])
    sold = co_owned_asset(center)  # confirmed by both
    states.append(shown(app, sold)["ownership_state"])
    app.transfer_shares(ADMIN, sold, from_member_id=center.uni, to_member_id=center.lab, share_bps=1000,
                        effective_date=date(2024, 1, 1))  # fmt: skip
    owners = {center.uni: 5000, center.corp: 4000, center.lab: 1000}
    app.transfer_ownership(ADMIN, TransferRequest("sale-1", sold, owners, "Buyer Ltd", None, SERVICE_DAY))  # outside
    states.append(shown(app, sold)["ownership_state"])
    causes = [s.OwnershipPeriodOut.of(p).model_dump()["cause"] for p in app.ownership_history(ADMIN, sold)]

    assert states == list(get_args(s.OwnershipState))
    assert causes == list(get_args(s.OwnershipCause))
