"""Bodies of the revenue-share HTTP API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from revenue_share.domain.settlement import SettlementPeriod
from revenue_share.domain.statements import Reconciliation, Statement


class OpenPeriod(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    period_id: str = Field(min_length=1, max_length=40, examples=["2026-Q4"])
    start: date
    end: date


class PeriodOut(BaseModel):
    period_id: str
    start: date
    end: date
    status: str
    closed_at: datetime | None
    statement_hash: str

    @classmethod
    def of(cls, period: SettlementPeriod) -> PeriodOut:
        return cls(
            period_id=period.period_id,
            start=period.start,
            end=period.end,
            status="closed" if period.closed_at else "open",
            closed_at=period.closed_at,
            statement_hash=period.statement_hash,
        )


class Closed(BaseModel):
    period_id: str
    statement_hash: str


class PayeeOut(BaseModel):
    kind: str
    id: str
    account: str


class LineOut(BaseModel):
    currency: str
    step: str
    amount: int
    policy_version: str
    adjustment: bool
    reason: str
    source_event_ids: list[str]


class BalanceOut(BaseModel):
    currency: str
    carried_in: int
    entitled: int
    paid: int
    carried_out: int


class StatementOut(BaseModel):
    period_id: str
    payee: PayeeOut
    closed_at: datetime | None
    lines: list[LineOut]
    balances: list[BalanceOut]

    @classmethod
    def of(cls, s: Statement) -> StatementOut:
        return cls(
            period_id=s.period_id,
            payee=PayeeOut(kind=s.payee.kind.value, id=s.payee.id, account=s.payee.account),
            closed_at=s.closed_at,
            lines=[
                LineOut(
                    currency=line.currency,
                    step=line.step.value,
                    amount=line.amount,
                    policy_version=line.policy_version,
                    adjustment=line.adjustment,
                    reason=line.reason,
                    source_event_ids=list(line.source_event_ids),
                )
                for line in s.lines
            ],
            balances=[BalanceOut(**asdict(b)) for b in s.balances],
        )


class PayoutOut(BaseModel):
    """One payee's money in one currency for a period (provisional while it is open)."""

    payee: PayeeOut
    currency: str
    entitled: int
    paid: int
    carried_out: int


class ReconciliationOut(BaseModel):
    period_id: str
    currency: str
    receipts: int
    carried_in: int
    operating_fees: int
    cost_recoveries: int
    payouts: int
    carried_forward: int
    residual: int

    @classmethod
    def of(cls, r: Reconciliation) -> ReconciliationOut:
        return cls(**asdict(r))
