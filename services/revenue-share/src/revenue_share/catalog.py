"""Which revenue-share events go on the bus, and as which protobuf payload: every one of them."""

from __future__ import annotations

from ipshare.envelope import EventCatalog, PayloadDecoder
from ipshare_contracts.revenueshare.v1 import events_pb2 as pb
from revenue_share.domain.policy_versions import PolicyVersion
from revenue_share.domain.settlement import IssuedStatement, SettlementPeriod

SOURCE = "revenue-share"


def build_catalog() -> EventCatalog:
    catalog = EventCatalog(SOURCE)
    catalog.register_all(
        [
            (SettlementPeriod.Opened, pb.PeriodOpened),
            (SettlementPeriod.Closed, pb.PeriodClosed),
            (IssuedStatement.Issued, pb.StatementIssued),
            (PolicyVersion.Recorded, pb.PolicyVersionRecorded),
        ]
    )
    return catalog


def own_events() -> PayloadDecoder:
    """Reads back what revenue-share publishes (its rebuild and audit read its own topic)."""
    return PayloadDecoder(build_catalog().payload_types())
