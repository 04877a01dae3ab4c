"""Statements, their lines and sources, reconciliation, and the replay hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from revenue_share.domain.facts import Payee, Step


@dataclass(frozen=True, slots=True)
class SourceGroup:
    """The facts behind (part of) a line: receipts and the facts that shaped their split.

    Many lines share one group (a group feeds every payee of its split), so the ids
    are stored once and hashed once.
    """

    scope: str  # the asset (or "equity:<spin-off>") whose income this is
    receipt_ids: tuple[str, ...]  # sorted
    fact_ids: tuple[str, ...]  # ownership, inventors, policy versions, costs; sorted
    digest: str

    @classmethod
    def of(cls, scope: str, receipt_ids: Iterable[str], fact_ids: Iterable[str]) -> SourceGroup:
        receipts = tuple(sorted(set(receipt_ids)))
        facts = tuple(sorted(set(fact_ids)))
        digest = hashlib.sha256("\x1e".join((scope, "\x1f".join(receipts), "\x1f".join(facts))).encode()).hexdigest()
        return cls(scope, receipts, facts, digest)


@dataclass(frozen=True, slots=True)
class StatementLine:
    payee: Payee
    currency: str
    step: Step
    amount: int  # minor units; negative on an adjustment that takes back
    policy_version: str  # the policy versions that produced it, "center+member"
    adjustment: bool  # True: a change to earlier, closed periods
    reason: str  # why an adjustment was made; empty on a regular line
    sources: tuple[SourceGroup, ...]

    @property
    def sources_digest(self) -> str:
        """One digest over the line's source groups: what an issued statement carries, so its size
        does not grow with the history (explain lists the groups)."""
        return sources_digest(g.digest for g in self.sources)

    @property
    def source_event_ids(self) -> tuple[str, ...]:
        ids: set[str] = set()
        for group in self.sources:
            ids.update(group.receipt_ids)
            ids.update(group.fact_ids)
        return tuple(sorted(ids))


@dataclass(frozen=True, slots=True)
class Balance:
    """A payee's money in one currency for one period."""

    currency: str
    carried_in: int
    entitled: int  # the sum of the period's lines
    paid: int
    carried_out: int  # below the minimum payout, negative, or held: paid later


@dataclass(frozen=True, slots=True)
class Statement:
    period_id: str
    payee: Payee
    closed_at: datetime | None  # None: a provisional statement of the open period
    lines: tuple[StatementLine, ...]
    balances: tuple[Balance, ...]


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Receipts + carried in = operating fees + cost recoveries + payouts + carried out, per currency."""

    period_id: str
    currency: str
    receipts: int  # money first accounted in this period (incl. late receipts of closed periods)
    carried_in: int
    operating_fees: int
    cost_recoveries: int
    payouts: int  # paid to members and researchers (their distribution lines)
    carried_forward: int
    residual: int  # always zero
    # Of carried_forward: owners' shares of receipts on assets no member owned on the receipt
    # date (assigned out of the membership), held until finance settles them outside the waterfall.
    unallocated: int = 0


def as_issued(statements: Iterable[Statement]) -> tuple[Statement, ...]:
    """The statements as issued events carry them: each source group keeps its scope and
    digest but not its ids (explain serves those). The hash is the same, the size a fraction."""
    bare: dict[str, SourceGroup] = {}  # many lines share a group

    def issued(group: SourceGroup) -> SourceGroup:
        found = bare.get(group.digest)
        if found is None:
            found = bare[group.digest] = SourceGroup(group.scope, (), (), group.digest)
        return found

    return tuple(
        replace(s, lines=tuple(replace(line, sources=tuple(map(issued, line.sources))) for line in s.lines))
        for s in statements
    )


def sources_digest(group_digests: Iterable[str]) -> str:
    """sha256 over the sorted digests of a line's source groups."""
    return hashlib.sha256("\n".join(sorted(group_digests)).encode()).hexdigest()


def statement_hash(statements: Iterable[Statement]) -> str:
    """sha256 over a canonical serialization, independent of the order given."""
    digest = hashlib.sha256()
    for statement in sorted(statements, key=lambda s: (s.period_id, s.payee)):
        closed = statement.closed_at.isoformat() if statement.closed_at else ""
        digest.update(f"S|{statement.period_id}|{statement.payee}|{closed}\n".encode())
        for line in sorted(statement.lines, key=_line_key):
            sources = ",".join(sorted(g.digest for g in line.sources))  # kept as first defined: issued hashes use it
            digest.update(
                f"L|{line.currency}|{line.step}|{line.policy_version}|{int(line.adjustment)}|{line.amount}|"
                f"{line.reason}|{sources}\n".encode()
            )
        for b in statement.balances:
            digest.update(f"B|{b.currency}|{b.carried_in}|{b.entitled}|{b.paid}|{b.carried_out}\n".encode())
    return digest.hexdigest()


def _line_key(line: StatementLine) -> tuple[str, str, str, bool, int, str]:
    return line.currency, line.step, line.policy_version, line.adjustment, line.amount, line.reason
