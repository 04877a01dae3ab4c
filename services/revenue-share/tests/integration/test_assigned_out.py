"""An asset assigned out of the membership, from the registry's event to reconciled statements."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.consumer import InboundEvent
from ipshare_contracts.commercialization.v1 import events_pb2 as commercialization
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry
from ipshare_contracts.money.v1.money_pb2 import Money
from ipshare_kernel.money import allocate
from revenue_share.adapters.inbox import facts
from revenue_share.application import Payouts, RevenueShareApplication
from revenue_share.domain.statements import statement_hash

from .conftest import ALICE, ASSET, BOB, FINANCE, INSTITUTE, RECEIPT, UNIVERSITY, envelope, learn, slice_events

pytestmark = pytest.mark.integration

SALE, PRICE = str(uuid.uuid4()), 2_000_000


def assignment_events() -> list[InboundEvent]:
    sellers = [registry.OwnerShare(member_id=UNIVERSITY, share_bps=6000),
               registry.OwnerShare(member_id=INSTITUTE, share_bps=4000)]  # fmt: skip
    # Sold on 2026-11-10: the slice's receipt of 2026-11-20 comes after it.
    out = registry.OwnershipAssignedOut(assignee="Buyer Ltd", from_owners=sellers, request_id=str(uuid.uuid4()),
                                        effective_date="2026-11-10")  # fmt: skip
    price = commercialization.RevenueReceived(
        license_id=SALE, asset_ids=[ASSET], kind="assignment", amount=Money(amount=PRICE, currency="CNY"),
        effective_date="2026-11-25",
    )  # fmt: skip
    return [envelope("ip-registry", ASSET, 4, out), envelope("commercialization", SALE, 1, price)]


async def test_after_the_assignment_the_owners_share_is_unallocated_but_the_price_goes_to_the_sellers(
    engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    await learn(engine, slice_events() + assignment_events())
    application.open_period(FINANCE, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31))
    payouts = Payouts(application, engine)

    statements = await payouts.provisional(FINANCE, "2026-Q4")

    got = {(s.payee.kind.value, s.payee.id, s.payee.account): sum(b.entitled for b in s.balances) for s in statements}
    # The receipt of 1,000,001 fen, no owner: 500,001 to the inventors by contribution (70/30),
    # 500,000 unallocated (the odd fen goes to the first part). The price of 2,000,000: 60/40 to the
    # sellers, half of each one's part to its own inventor (Alice is the university's, Bob the institute's).
    researchers = allocate(500_001, {ALICE: 7000, BOB: 3000})
    assert got == {
        ("researcher", ALICE, ""): researchers[ALICE] + 600_000,
        ("researcher", BOB, ""): researchers[BOB] + 400_000,
        ("member", UNIVERSITY, ""): 600_000,
        ("member", INSTITUTE, ""): 400_000,
        ("center", "center", "unallocated"): 500_000,
    }
    [cny] = await payouts.reconcile(FINANCE, "2026-Q4")
    assert (cny.receipts, cny.payouts, cny.carried_forward, cny.unallocated, cny.residual) == (
        RECEIPT + PRICE, RECEIPT + PRICE - 500_000, 500_000, 500_000, 0)  # fmt: skip


async def test_the_assignment_is_kept_in_the_inbox_and_a_restart_reproduces_the_close(
    engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    await learn(engine, slice_events() + assignment_events())
    application.open_period(FINANCE, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31))

    digest = await Payouts(application, engine).close(FINANCE, "2026-Q4")

    async with engine.connect() as conn:
        bodies = (await conn.execute(select(facts.c.body).where(facts.c.kind == "assigned_out"))).scalars().all()
    assert [(b["asset_id"], b["effective_date"], b["sellers"]) for b in bodies] == [
        (ASSET, "2026-11-10", {UNIVERSITY: 6000, INSTITUTE: 4000})
    ]
    assert statement_hash(await Payouts(application, engine).statements(FINANCE, "2026-Q4")) == digest
