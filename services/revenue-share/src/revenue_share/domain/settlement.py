"""Settlement periods and issued statements: revenue-share's own facts, event-sourced.

Finance opens periods back to back and closes them in order. Closing records when
(`closed_at`) and on what (the event positions applied) the statements were computed,
with a hash over them, and issues one immutable statement per payee.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from ipshare_kernel.errors import Conflict, DomainError
from revenue_share.domain.statements import sources_digest

NAMESPACE = uuid.UUID("a6f1c0de-52b4-4f7e-9d3a-6c1e8b2f4a90")


def period_key(period_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"period/{period_id}")


def statement_key(period_id: str, payee: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"statement/{period_id}/{payee}")


class SettlementPeriod(Aggregate):
    class Opened(Aggregate.Created):
        period_id: str
        start: date
        end: date

    class Closed(Aggregate.Event):
        period_id: str
        closed_at: datetime
        statement_hash: str
        marks: list[dict[str, Any]]
        statements: int

    @staticmethod
    def create_id(period_id: str, **_: Any) -> uuid.UUID:
        return period_key(period_id)

    @event(Opened)
    def __init__(self, period_id: str, start: date, end: date) -> None:
        self.period_id = period_id
        self.start = start
        self.end = end
        self.closed_at: datetime | None = None
        self.statement_hash = ""
        self.marks: list[dict[str, Any]] = []  # what the close covered: per source partition, the last position

    @classmethod
    def open(cls, period_id: str, start: date, end: date) -> SettlementPeriod:
        if not period_id.strip():
            raise DomainError("a period needs an id")
        if end < start:
            raise DomainError("a period ends on or after its start", start=start.isoformat(), end=end.isoformat())
        return cls(period_id=period_id.strip(), start=start, end=end)

    def close(self, closed_at: datetime, statement_hash: str, marks: list[dict[str, Any]], statements: int) -> None:
        if self.closed_at is not None:
            raise Conflict(f"period {self.period_id} is already closed", closed_at=self.closed_at.isoformat())
        self._closed(
            period_id=self.period_id,
            closed_at=closed_at,
            statement_hash=statement_hash,
            marks=marks,
            statements=statements,
        )

    @event(Closed)
    def _closed(
        self, period_id: str, closed_at: datetime, statement_hash: str, marks: list[dict[str, Any]], statements: int
    ) -> None:
        self.closed_at = closed_at
        self.statement_hash = statement_hash
        self.marks = marks


class IssuedStatement(Aggregate):
    """One payee's statement of a closed period, as issued; it never changes."""

    class Issued(Aggregate.Created):
        period_id: str
        payee_kind: str
        payee_id: str
        payee_account: str
        closed_at: datetime
        lines: list[dict[str, Any]]
        balances: list[dict[str, Any]]

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Lines issued before one digest over their source groups carried each group's digest."""
            for line in state["lines"]:
                if "source_digests" in line:
                    line["sources_digest"] = sources_digest(line.pop("source_digests"))

    @staticmethod
    def create_id(period_id: str, payee_kind: str, payee_id: str, payee_account: str, **_: Any) -> uuid.UUID:
        return statement_key(period_id, f"{payee_kind}:{payee_id}/{payee_account}")

    @event(Issued)
    def __init__(
        self,
        period_id: str,
        payee_kind: str,
        payee_id: str,
        payee_account: str,
        closed_at: datetime,
        lines: list[dict[str, Any]],
        balances: list[dict[str, Any]],
    ) -> None:
        self.period_id = period_id
        self.payee_kind = payee_kind
        self.payee_id = payee_id
        self.payee_account = payee_account
        self.closed_at = closed_at
        self.lines = lines
        self.balances = balances
