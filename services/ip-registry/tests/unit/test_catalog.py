"""Every event the aggregates emit converts to its protobuf payload."""

from __future__ import annotations

from datetime import date

from ip_registry.application import IpRegistryApplication
from ip_registry.catalog import build_catalog
from ip_registry.domain.asset import Asset
from ip_registry.domain.commands import InventorClaim
from ip_registry.domain.member import Member, Researcher
from ip_registry.domain.ownership_transfer import OwnershipTransfer, TransferRequest
from ipshare_kernel.money import Money

from .conftest import ADMIN, Center, as_member
from .test_application import co_owned


def every_event_kind(c: Center) -> None:
    app = c.app
    uni = as_member(c.uni)
    app.suspend_member(ADMIN, c.lab, "audit")
    app.reinstate_member(ADMIN, c.lab, "cleared")
    app.change_affiliation(ADMIN, c.carol, c.uni, date(2023, 1, 1))
    asset_id = app.register_asset(uni, co_owned(c))
    app.decline_co_ownership(as_member(c.corp), asset_id, c.corp, "no")
    app.propose_ownership(uni, asset_id, {c.uni: 5000, c.corp: 5000})
    app.confirm_co_ownership(as_member(c.corp), asset_id, c.corp)
    app.transfer_shares(
        ADMIN, asset_id, from_member_id=c.uni, to_member_id=c.lab, share_bps=10, effective_date=date(2025, 1, 1)
    )
    app.publish(uni, asset_id, "CN1", date(2021, 9, 1))
    app.grant(uni, asset_id, "ZL1", date(2022, 9, 1), None)
    app.tag_strategic_reserve(uni, asset_id, "key_core")
    app.correct_inventors(uni, asset_id, [InventorClaim(c.alice, 10000)], "sole inventor")
    app.record_cost(
        uni, asset_id, kind="filing", amount=Money(1, "CNY"), paid_by=c.corp, effective_date=date(2021, 3, 1)
    )
    app.end_asset(uni, asset_id, "invalidated", date(2024, 1, 1), "prior art")
    disclosed = app.register_asset(uni, co_owned(c, application_number="", status="disclosed", filing_date=None))
    app.file_application(uni, disclosed, "202110012343.X", date(2021, 6, 1))
    sold = app.register_asset(uni, co_owned(c, application_number="", status="disclosed", filing_date=None,
                                            owners={c.uni: 10_000}))  # fmt: skip
    app.transfer_ownership(ADMIN, TransferRequest("sale-1", sold, {c.uni: 10_000}, "Buyer", None, date(2024, 7, 1)))


def test_every_event_converts_to_its_payload(center: Center, app: IpRegistryApplication) -> None:
    every_event_kind(center)
    catalog = build_catalog()
    events = [e for n in app.notifications_after(0, 1000) for e in [app.mapper.to_domain_event(n)]]
    seen = {type(e) for e in events}
    declared = {
        cls
        for aggregate in (Member, Researcher, Asset)
        for name, cls in vars(aggregate).items()
        if isinstance(cls, type) and issubclass(cls, aggregate.Event) and name not in ("Event", "Created")
    }
    assert declared <= seen, f"not exercised: {declared - seen}"
    assert all(catalog.publishes(cls.__new__(cls)) for cls in declared)
    for event in events:
        if isinstance(event, OwnershipTransfer.Recorded):
            assert not catalog.publishes(event)  # the registry's record of handled requests stays home
            continue
        payload = catalog.payload(event)
        assert payload.DESCRIPTOR.full_name.startswith("ipshare.ipregistry.v1.")
    effective = next(e for e in events if isinstance(e, Asset.SharesTransferred))
    message = catalog.payload(effective)
    assert {o.share_bps for o in message.owners} == {4990, 5000, 10}  # type: ignore[attr-defined]
    cost = catalog.payload(next(e for e in events if isinstance(e, Asset.CostRecorded)))
    assert (cost.amount.amount, cost.amount.currency) == (1, "CNY")  # type: ignore[attr-defined]
