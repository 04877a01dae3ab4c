"""A downward correction after payment reaches revenue-share's payouts: commercialization records it,
its published envelopes are what revenue-share's inbox reads, and the ledger pays the net."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from commercialization.application import CommercializationApplication
from commercialization.catalog import build_catalog
from commercialization.domain.reports import ReportLine
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext, persistence_env
from revenue_share.adapters.inbox import fact_stated
from revenue_share.domain.facts import InventorShares, OwnershipSnapshot, Period
from revenue_share.domain.ledger import Ledger
from revenue_share.ledger_feed import add_fact

UNIVERSITY = uuid.UUID(int=0xA)
ASSET = uuid.UUID(int=0x100)
FINANCE = CommandContext(Principal(Role.FINANCE, "fiona"))
LEARNED = datetime(2025, 1, 2, tzinfo=UTC)


class OneOwner:
    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        return {UNIVERSITY: 10_000}

    def owners_during(self, asset_id: uuid.UUID, start: date, end: date) -> set[uuid.UUID]:
        return {UNIVERSITY}


class Row(NamedTuple):
    fact_id: str
    kind: str
    body: dict[str, Any]
    recorded_at: datetime
    position: int


def published_facts(app: CommercializationApplication) -> list[Row]:
    """What revenue-share's inbox keeps of commercialization's topic: each envelope's payload, stated."""
    catalog = build_catalog()
    rows = []
    for notification in app.notifications_after(0, 10_000):
        event, meta = app.metadata_mapper.decode(notification)
        if not catalog.publishes(event):
            continue
        envelope = catalog.envelope(notification.id, event, meta)
        stated = fact_stated(envelope.aggregate_id, catalog.payload(event))
        if stated is not None:
            rows.append(Row(envelope.event_id, *stated, LEARNED, notification.id))
    return rows


def test_a_correction_after_payment_is_paid_out_net_of_the_revenue_taken_back() -> None:
    app = CommercializationApplication(persistence_env(None), OneOwner(), reads=OneOwner())
    try:
        lic = app.grant_license(
            CommandContext(Principal(Role.MEMBER, "uni", UNIVERSITY)), "Acme", [ASSET], "non_exclusive", 500,
            effective_date=date(2025, 1, 1),
        )  # fmt: skip
        report = app.submit_royalty_report(
            FINANCE, lic, date(2025, 1, 1), date(2025, 3, 31), [ReportLine("cell", "CN", "CNY", 100_000)],
            effective_date=date(2025, 4, 10),
        )  # fmt: skip  # 5,000 invoiced
        app.record_payment(FINANCE, lic, 5_000, "CNY", date(2025, 4, 20), "BANK-1")
        app.submit_royalty_report(
            FINANCE, lic, date(2025, 1, 1), date(2025, 3, 31), [ReportLine("cell", "CN", "CNY", 40_000)],
            supersedes=report, effective_date=date(2025, 5, 10),
        )  # fmt: skip  # 2,000 due: 3,000 taken back
        rows = published_facts(app)
    finally:
        app.close()
    assert [(r.kind, r.body["amount"]) for r in rows] == [("receipt", 5_000), ("receipt", -3_000)]

    ledger = Ledger()
    ledger.define_period(Period("2025", date(2025, 1, 1), date(2025, 12, 31)))
    owners = {str(UNIVERSITY): 10_000}
    ledger.add_ownership(OwnershipSnapshot("own", str(ASSET), date(2020, 1, 1), owners, LEARNED))
    ledger.add_inventors(InventorShares("inv", str(ASSET), date(2020, 1, 1), {"r1": 10_000}, {"r1": str(UNIVERSITY)},
                                        LEARNED))  # fmt: skip
    for row in rows:
        add_fact(ledger, row)
    statements = ledger.close_period("2025", datetime(2026, 1, 2, tzinfo=UTC))
    assert sum(line.amount for s in statements for line in s.lines) == 2_000
    (cny,) = ledger.reconcile("2025")
    assert (cny.receipts, cny.residual) == (2_000, 0)
