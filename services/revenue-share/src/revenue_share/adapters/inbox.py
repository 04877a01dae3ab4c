"""The inbox: what revenue-share learns from the other services' topics, kept as facts.

The consumer translates each relevant event into a fact row (plain JSON, in this
service's own database) in the same transaction as its dedupe mark. `recorded_at` is
when revenue-share learned the fact (the clock at insert, not the transaction start, so
a fact inserted after a close is never dated before it). The ledger is built from
these rows in `seq` order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from google.protobuf.message import Message
from sqlalchemy import JSON, BigInteger, Column, DateTime, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ipshare import bus
from ipshare.consumer import InboundEvent
from ipshare.envelope import PayloadDecoder
from ipshare.typed_fields import date_of, iso_date_of, text_of
from ipshare_contracts.commercialization.v1 import events_pb2 as commercialization
from ipshare_contracts.incubation.v1 import events_pb2 as incubation
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry

metadata = MetaData()
facts = Table(
    "facts",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("fact_id", String, nullable=False, unique=True),
    Column("kind", String, nullable=False),
    # json, not jsonb: a body is only ever written and read whole, and json costs PostgreSQL
    # a quarter less to take in (a replay COPYs a million of them).
    Column("body", JSON, nullable=False),
    Column("source_topic", String, nullable=False),
    Column("source_position", BigInteger, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()),
)


class FactRow(NamedTuple):  # a tuple: loading an inbox makes a million of them
    seq: int
    fact_id: str
    kind: str
    body: dict[str, Any]
    recorded_at: datetime
    position: int  # in the source service's log (`source_position`): orders facts of one date


def _owners(owners: Sequence[registry.OwnerShare]) -> dict[str, int]:
    return {o.member_id: o.share_bps for o in owners}


def _inventors(inventors: Sequence[registry.Inventor]) -> dict[str, Any]:
    return {
        "contributions": {i.researcher_id: i.contribution_bps for i in inventors},
        "affiliations": {i.researcher_id: i.affiliation_member_id for i in inventors},
    }


def _invented_on(payload: registry.AssetRegistered) -> str:
    """Inventors count from the earliest date the registry knows of the invention."""
    known = [date_of(payload, typed) for typed in ("disclosure_day", "filing_day", "effective_day")]
    return min(d for d in known if d is not None).isoformat()


Body = dict[str, Any]


def fact_of(inbound: InboundEvent) -> tuple[str, Body] | None:
    """(kind, body) of the fact an event states, or None when it tells revenue-share nothing."""
    return fact_stated(inbound.envelope.aggregate_id, inbound.payload)


def fact_stated(subject: str, payload: Message) -> tuple[str, Body] | None:
    """(kind, body) of the fact a payload about `subject` (its aggregate) states, or None."""
    stating = _STATED_BY.get(type(payload))
    return None if stating is None else stating(subject, payload)


def _member(subject: str, payload: registry.MemberAdmitted) -> tuple[str, Body]:
    kind = text_of(payload, "member_kind")
    return "member", {"member_id": subject, "kind": kind, "state_established": payload.state_established}


def _ownership(subject: str, payload: registry.OwnershipEffective | registry.SharesTransferred) -> tuple[str, Body]:
    owners = _owners(payload.owners)
    return "ownership", {"asset_id": subject, "effective_date": iso_date_of(payload, "effective_day"), "owners": owners}


def _assigned_out(subject: str, payload: registry.OwnershipAssignedOut) -> tuple[str, Body]:
    # From effective_date no member owns the asset; the sellers are kept for the sale's proceeds.
    return "assigned_out", {
        "asset_id": subject,
        "effective_date": iso_date_of(payload, "effective_day"),
        "sellers": _owners(payload.from_owners),
        "assignee": payload.assignee,
        "request_id": payload.request_id,
    }


def _registered(subject: str, payload: registry.AssetRegistered) -> tuple[str, Body]:
    return "inventors", {"asset_id": subject, "effective_date": _invented_on(payload), **_inventors(payload.inventors)}


def _corrected(subject: str, payload: registry.InventorsCorrected) -> tuple[str, Body]:
    return "inventors", {
        "asset_id": subject,
        "effective_date": iso_date_of(payload, "effective_day"),
        **_inventors(payload.inventors),
    }


def _cost(subject: str, payload: registry.CostRecorded) -> tuple[str, Body]:
    return "cost", {
        "asset_id": subject,
        "cost_id": payload.cost_id,
        "amount": payload.amount.amount,
        "currency": payload.amount.currency,
        "effective_date": iso_date_of(payload, "effective_day"),
        "paid_by": payload.paid_by,
    }


def _receipt(
    _: str, payload: commercialization.RevenueReceived | commercialization.RevenueRefunded, sign: int = 1
) -> tuple[str, Body]:
    amount = payload.amount
    return "receipt", {
        "license_id": payload.license_id,
        "asset_ids": list(payload.asset_ids),
        "kind": text_of(payload, "revenue_kind"),
        "amount": sign * amount.amount,
        "currency": amount.currency,
        "effective_date": iso_date_of(payload, "effective_day"),
        "asset_split": {a.asset_id: sign * a.amount.amount for a in payload.asset_splits},
    }


def _refund(subject: str, payload: commercialization.RevenueRefunded) -> tuple[str, Body]:
    """Revenue taken back by a credit note on a paid invoice: a negative receipt, dated the credit note's day."""
    return _receipt(subject, payload, sign=-1)


def _proceeds(subject: str, payload: incubation.ProceedsDistributed) -> tuple[str, Body] | None:
    members = {line.holder_id: line.amount for line in payload.lines if text_of(line, "holder_type") == "member"}
    if not members:
        return None
    return "equity", {
        "spin_off_id": subject,
        "distribution_id": payload.distribution_id,
        "asset_ids": list(payload.asset_ids),
        "members": members,
        "currency": payload.amount.currency,
        "effective_date": iso_date_of(payload, "effective_day"),
    }


# A replay reads a million events: one dict look-up per event, not a chain of isinstance checks.
_STATED_BY: dict[type[Message], Callable[[str, Any], tuple[str, Body] | None]] = {
    commercialization.RevenueReceived: _receipt,
    commercialization.RevenueRefunded: _refund,
    registry.MemberAdmitted: _member,
    registry.OwnershipEffective: _ownership,
    registry.SharesTransferred: _ownership,
    registry.OwnershipAssignedOut: _assigned_out,
    registry.AssetRegistered: _registered,
    registry.InventorsCorrected: _corrected,
    registry.CostRecorded: _cost,
    incubation.ProceedsDistributed: _proceeds,
}
RELEVANT: tuple[type[Message], ...] = tuple(_STATED_BY)


class InboxProjection:
    """Feeds the inbox from the three topics (the shared consumer dedupes redeliveries)."""

    name: str = "inbox"
    topics: Sequence[str] = (bus.topic_of("ip-registry"), bus.topic_of("commercialization"), bus.topic_of("incubation"))
    decoder: PayloadDecoder = PayloadDecoder(RELEVANT)

    async def apply(self, conn: AsyncConnection, events: Sequence[InboundEvent]) -> None:
        rows = []
        for inbound in events:
            fact = fact_of(inbound)
            if fact is None:
                continue
            kind, body = fact
            rows.append(
                {
                    "fact_id": inbound.envelope.event_id,
                    "kind": kind,
                    "body": body,
                    "source_topic": bus.topic_of(inbound.envelope.source),
                    "source_position": inbound.envelope.position,
                }
            )
        if rows:
            # A fact re-published under the same event id is the same fact: keep the first.
            await conn.execute(insert(facts).on_conflict_do_nothing(index_elements=["fact_id"]), rows)


async def facts_after(conn: AsyncConnection, seq: int, limit: int | None = None) -> list[FactRow]:
    """The facts after `seq`, in order (the first `limit` of them)."""
    result = await conn.execute(
        select(facts.c.seq, facts.c.fact_id, facts.c.kind, facts.c.body, facts.c.recorded_at, facts.c.source_position)
        .where(facts.c.seq > seq)
        .order_by(facts.c.seq)
        .limit(limit)
    )
    return [FactRow(*row) for row in result]
