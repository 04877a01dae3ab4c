"""From stated facts (inbox rows, or a replay's) to the domain's facts: the ledger is rebuilt from these."""

from __future__ import annotations

import functools
from datetime import date, datetime
from sys import intern
from typing import Any, Protocol

from revenue_share.domain.facts import (
    AssetCost,
    CashReceipt,
    EquityProceeds,
    InventorShares,
    Member,
    MemberKind,
    OwnershipSnapshot,
)
from revenue_share.domain.ledger import Ledger


class StatedFact(Protocol):
    """A fact as the inbox keeps it (`inbox.FactRow`) or a replay reads it (`source_facts.DatedFact`)."""

    @property
    def fact_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def body(self) -> dict[str, Any]: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def position(self) -> int: ...  # in the source service's log


DomainFact = Member | OwnershipSnapshot | InventorShares | AssetCost | CashReceipt | EquityProceeds


def add_fact(ledger: Ledger, row: StatedFact) -> None:
    if row.kind == "receipt":  # nearly every fact is one: straight in
        for receipt in _receipts(row, row.body):
            ledger.add_receipt(receipt)
        return
    for fact in domain_facts(row):
        getattr(ledger, _ADD[type(fact)])(fact)


def domain_facts(row: StatedFact) -> list[DomainFact]:
    """The domain facts an inbox row (or a replay's fact) states: what the ledger, and the reference
    model of the payouts in the tests, are fed."""
    body: dict[str, Any] = row.body
    match row.kind:
        case "receipt":
            return list(_receipts(row, body))
        case "member":
            return [Member(body["member_id"], MemberKind(body["kind"]), body["state_established"], row.recorded_at)]
        case "ownership":
            owners = body["owners"]
            return [OwnershipSnapshot(row.fact_id, body["asset_id"], _day(body), owners, row.recorded_at,
                                      position=row.position)]  # fmt: skip
        case "assigned_out":
            # No owners from the effective date; the sellers take the sale's proceeds.
            return [OwnershipSnapshot(row.fact_id, body["asset_id"], _day(body), {}, row.recorded_at,
                                      body["sellers"], row.position)]  # fmt: skip
        case "inventors":
            return [InventorShares(row.fact_id, body["asset_id"], _day(body), body["contributions"],
                                   body["affiliations"], row.recorded_at, row.position)]  # fmt: skip
        case "cost":
            return [AssetCost(body["cost_id"], body["asset_id"], body["amount"], body["currency"], _day(body),
                              body["paid_by"], row.recorded_at, row.position)]  # fmt: skip
        case "equity":
            return list(_equity(row, body))
        case _:
            raise ValueError(f"unknown fact kind {row.kind!r}")


_ADD: dict[type, str] = {  # the ledger's method that takes each kind of fact
    Member: "add_member",
    OwnershipSnapshot: "add_ownership",
    InventorShares: "add_inventors",
    AssetCost: "add_cost",
    EquityProceeds: "add_equity_proceeds",
}


def _receipts(row: StatedFact, body: dict[str, Any]) -> list[CashReceipt]:
    """One receipt, or one per asset where the license states each asset's part in money."""
    parts: dict[str, int] = body["asset_split"] or {}
    # A history holds a million receipts over a few thousand licenses and assets: share one
    # copy of each id, kind, currency and day rather than keep one per receipt.
    license_id, kind, currency = intern(body["license_id"]), intern(body["kind"]), intern(body["currency"])
    if not parts:
        assets = _asset_ids(tuple(body["asset_ids"]))
        return [
            CashReceipt(row.fact_id, license_id, assets, kind, body["amount"], currency, _day(body), row.recorded_at)
        ]
    return [
        CashReceipt(
            f"{row.fact_id}/{asset_id}",
            license_id,
            (intern(asset_id),),
            kind,
            amount,
            currency,
            _day(body),
            row.recorded_at,
        )
        for asset_id, amount in sorted(parts.items())
        if amount
    ]


def _equity(row: StatedFact, body: dict[str, Any]) -> list[EquityProceeds]:
    """One fact per member paid by a spin-off distribution (investors and researchers are paid directly)."""
    return [
        EquityProceeds(
            f"{row.fact_id}/{member_id}",
            member_id,
            body["spin_off_id"],
            amount,
            body["currency"],
            _day(body),
            row.recorded_at,
            tuple(body["asset_ids"]),
        )
        for member_id, amount in sorted(body["members"].items())
        if amount
    ]


@functools.lru_cache(maxsize=1 << 16)
def _asset_ids(ids: tuple[str, ...]) -> tuple[str, ...]:
    """One copy of each list of assets, sorted as a receipt keeps it: a license's receipts all name the same ones."""
    return tuple(sorted(set(map(intern, ids))))


def _day(body: dict[str, Any]) -> date:
    return _parse_day(body["effective_date"])


_parse_day = functools.lru_cache(maxsize=4096)(date.fromisoformat)
