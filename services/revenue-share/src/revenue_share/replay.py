"""Replay: rebuild revenue-share from the topics and recompute every issued statement.

Revenue-share's own topic says which periods were opened and closed, when, on what
(per topic and partition, the last event position the inbox had applied) and with
which statement hash. The other topics hold the facts. A fact is dated as the live
service learned it: inside the first close whose marks cover it, in log order, else
after the last close. That reproduces exactly what each close knew, whatever order the
topics and partitions are read in, so the recomputed hashes must equal the issued ones.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from ipshare.typed_fields import text_of
from revenue_share.adapters.inbox import FactRow
from revenue_share.domain.facts import Period
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy_versions import Policy
from revenue_share.domain.statements import Statement, sources_digest, statement_hash
from revenue_share.ledger_feed import add_fact

PartitionKey = tuple[str, int]  # (topic, partition)
# revenue-share's log of policy versions and close times, by log position
PolicyLogEntry = tuple[int, Policy | datetime]


class SourceFact(NamedTuple):  # a tuple: a replay makes a million of them
    """A fact as read from a topic, before it is dated."""

    topic: str
    partition: int
    position: int
    fact_id: str
    kind: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class IssuedClose:
    period_id: str
    closed_at: datetime
    statement_hash: str
    marks: Mapping[PartitionKey, int]
    statements: int


@dataclass
class IssuedHistory:
    """What revenue-share published about its periods, in the order it published it."""

    periods: list[Period] = field(default_factory=list)
    closes: list[IssuedClose] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    # period -> payee -> digest of its issued statement's lines (`issued_digest`)
    statements: dict[str, dict[str, bytes]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PeriodCheck:
    period_id: str
    issued_hash: str
    replayed_hash: str
    differences: tuple[str, ...]  # payees whose statements differ, in words
    # The replayed ones; out of the repr, which asyncio may take of a task's result (a million
    # events make a repr of hundreds of megabytes).
    statements: tuple[Statement, ...] = field(default=(), repr=False)

    @property
    def identical(self) -> bool:
        return self.issued_hash == self.replayed_hash and not self.differences


class LearnedAt:
    """When the live service learned a fact: at the first close whose marks cover it (its inbox had
    applied the fact's position on that partition), else after the last close, at `now`.

    A close's statements depend only on which facts were learned by its time, so this dating
    reproduces every close; finer times are not on the topics.
    """

    def __init__(self, closes: Sequence[IssuedClose], now: datetime) -> None:
        self._times = [close.closed_at for close in closes]
        self._times.append(max(now, self._times[-1] + timedelta(seconds=1)) if self._times else now)
        self._marks: dict[PartitionKey, list[int]] = {}
        for key in {key for close in closes for key in close.marks}:
            covered, marks = -1, []
            for close in closes:  # the inbox only moves forward: a later close covers what an earlier one did
                covered = max(covered, close.marks.get(key, -1))
                marks.append(covered)
            self._marks[key] = marks

    def __call__(self, topic: str, partition: int, position: int) -> datetime:
        marks = self._marks.get((topic, partition))
        return self._times[bisect_left(marks, position) if marks else -1]


def dated_rows(facts: Iterable[SourceFact], closes: Sequence[IssuedClose], now: datetime) -> list[FactRow]:
    """Inbox rows, in log order, with `recorded_at` placed as the live service learned each fact."""
    learned_at = LearnedAt(closes, now)
    ordered = sorted(facts, key=lambda f: (f.topic, f.partition, f.position))
    return [
        FactRow(seq, f.fact_id, f.kind, f.body, learned_at(f.topic, f.partition, f.position), f.position)
        for seq, f in enumerate(ordered, start=1)
    ]


def recompute(rows: Iterable[FactRow], history: IssuedHistory) -> list[PeriodCheck]:
    """Close every issued period again on the dated facts and compare with what was issued."""
    ledger = Ledger()
    for row in rows:
        add_fact(ledger, row)
    return close_again(ledger, history)


def close_again(ledger: Ledger, history: IssuedHistory) -> list[PeriodCheck]:
    """Close every issued period again on a ledger holding the dated facts; compare with what was issued."""
    return list(closes_again(ledger, history))


def closes_again(ledger: Ledger, history: IssuedHistory) -> Iterator[PeriodCheck]:
    """`close_again`, one close at a time, in close order."""
    for policy in history.policies:
        ledger.add_policy(policy)
    for period in sorted(history.periods, key=lambda p: p.start):
        ledger.define_period(period)
    for close in history.closes:
        statements = ledger.close_period(close.period_id, close.closed_at)
        differences = _differences(statements, history.statements.get(close.period_id, {}))
        yield PeriodCheck(close.period_id, close.statement_hash, statement_hash(statements), differences, statements)


def statement_digest(statement: Statement) -> bytes:
    """A digest of the comparable content of a statement, as StatementIssued carries it."""
    lines = [
        (line.currency, line.step.value, line.amount, line.policy_version, line.adjustment, line.reason,
         line.sources_digest)
        for line in statement.lines
    ]  # fmt: skip
    return _lines_digest(lines)


def _lines_digest(lines: list[tuple[str, str, int, str, bool, str, str]]) -> bytes:
    """A digest of a statement's lines in any order: a replay holds every issued statement as
    one digest, not its lines (at a million events, a hundred megabytes less). Compared only in
    the process that made it, so `repr` of plain strings, ints and bools is canonical enough."""
    return hashlib.sha256(repr(sorted(lines)).encode()).digest()


def _differences(replayed: Sequence[Statement], theirs: Mapping[str, bytes]) -> tuple[str, ...]:
    mine = {str(s.payee): statement_digest(s) for s in replayed}
    found = []
    for payee in sorted(mine.keys() | theirs.keys()):
        if payee not in theirs:
            found.append(f"{payee}: the replay finds a statement that was not issued")
        elif payee not in mine:
            found.append(f"{payee}: a statement was issued that the replay does not find")
        elif mine[payee] != theirs[payee]:
            found.append(f"{payee}: the issued lines differ from the replayed ones")
    return tuple(found)


def issued_digest(message_lines: Iterable[Any]) -> bytes:
    """A digest of the comparable content of a StatementIssued payload (`statement_digest`)."""
    lines = [
        (line.currency, text_of(line, "waterfall_step"), line.amount, line.policy_version, line.adjustment, line.reason,
         line.sources_digest or sources_digest(line.source_digests))  # the latter: issued before the field
        for line in message_lines
    ]  # fmt: skip
    return _lines_digest(lines)


def refused_versions(log: Sequence[PolicyLogEntry]) -> set[str]:
    """The policy versions the ledger refused when they were posted, given revenue-share's log of
    versions and close times by position: a version after a close with a time not after it.

    Such a version was kept though the admin got a 409 (its time was stamped before it waited
    for the close's lock); fed in before the closes it would rewrite their statements.
    """
    refused: set[str] = set()
    last_close: datetime | None = None
    for _, entry in sorted(log, key=lambda e: e[0]):
        if isinstance(entry, datetime):
            last_close = entry if last_close is None else max(last_close, entry)
        elif last_close is not None and entry.recorded_at <= last_close:
            refused.add(entry.version)
    return refused


def policies_in_force(log: Sequence[PolicyLogEntry]) -> list[Policy]:
    """The versions of the log the ledger accepted, in recording order (`refused_versions`)."""
    refused = refused_versions(log)
    return [e for _, e in sorted(log, key=lambda e: e[0]) if not isinstance(e, datetime) and e.version not in refused]


def period_of(period_id: str, start: str, end: str) -> Period:
    return Period(period_id, date.fromisoformat(start), date.fromisoformat(end))
