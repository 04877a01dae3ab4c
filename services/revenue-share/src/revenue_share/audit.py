"""The auditor's replay: recompute every issued statement from the verified event logs.

The same machinery as the replay from the topics (``replay.dated_rows`` and ``replay.recompute``),
fed with the events of the audit histories instead: revenue-share's own log gives the periods,
closes, policy versions and issued statements; the source services' logs give the facts. Nothing is
written anywhere, so it runs against live services and offline exports alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ipshare.audit_check import Problem, PublishedEvent
from ipshare.envelope import actor_of
from ipshare.typed_fields import iso_date_of, required_instant_of
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_contracts.revenueshare.v1 import events_pb2 as pb
from ipshare_kernel.actor import Attribution
from ipshare_kernel.clock import SYSTEM_CLOCK, Clock
from revenue_share.adapters.inbox import InboxProjection
from revenue_share.catalog import SOURCE, own_events
from revenue_share.rebuild import payee_of, policy_from_message
from revenue_share.replay import (
    IssuedClose,
    IssuedHistory,
    PeriodCheck,
    PolicyLogEntry,
    SourceFact,
    dated_rows,
    issued_digest,
    policies_in_force,
    recompute,
)
from revenue_share.replay import period_of as make_period
from revenue_share.source_facts import fact_in

_OWN = own_events()


@dataclass
class _Issued:
    """The issued history, and where in revenue-share's log each close and statement is."""

    history: IssuedHistory = field(default_factory=IssuedHistory)
    close_at: dict[str, int] = field(default_factory=dict)  # period -> position
    closed_by: dict[str, str] = field(default_factory=dict)  # period -> who closed it, in words
    statement_by: dict[tuple[str, str], str] = field(default_factory=dict)  # (period, payee) -> who issued it
    statement_at: dict[tuple[str, str], int] = field(default_factory=dict)  # (period, payee) -> position


def check_statements(events: Sequence[PublishedEvent], clock: Clock = SYSTEM_CLOCK) -> tuple[list[str], list[Problem]]:
    """Plain-word lines for what matches, problems for what does not (see ``ipshare.audit_check``);
    facts after the last close are dated the clock's now."""
    issued = _issued([e for e in events if e.envelope.source == SOURCE])
    if not issued.history.closes:
        return [f"{SOURCE}: no closed period, so no issued statement to recompute"], []
    facts = source_facts([e for e in events if e.envelope.source != SOURCE])
    checks = recompute(dated_rows(facts, issued.history.closes, clock.now()), issued.history)
    verified, problems = [], []
    for check in checks:
        if check.identical:
            verified.append(f"{SOURCE}: period {check.period_id} replayed from {len(facts)} source facts: "
                            f"{len(check.statements)} statements identical to those issued, hash "
                            f"{check.issued_hash[:16]}…, closed by {issued.closed_by[check.period_id]}")  # fmt: skip
        else:
            problems += _problems(check, issued)
    return verified, problems


def _problems(check: PeriodCheck, issued: _Issued) -> list[Problem]:
    period = check.period_id
    problems = []
    for difference in check.differences:
        payee = difference.split(": ", 1)[0]
        position, by = issued.statement_at.get((period, payee)), issued.statement_by.get((period, payee))
        where = f" (the StatementIssued event at position {position}, recorded by {by})" if position is not None else ""
        problems.append(Problem(SOURCE, "statement_differs", f"period {period}, statement of {payee}{where}: "
                                f"{difference.split(': ', 1)[-1]}"))  # fmt: skip
    if check.issued_hash != check.replayed_hash:
        position = issued.close_at.get(period)
        problems.append(Problem(SOURCE, "statement_hash_differs",
                                f"period {period}: the statement hash issued in the PeriodClosed event at position "
                                f"{position} (recorded by {issued.closed_by.get(period)}) is "
                                f"{check.issued_hash[:16]}…, the replay gives "
                                f"{check.replayed_hash[:16]}…"))  # fmt: skip
    return problems


def _issued(own: Sequence[PublishedEvent]) -> _Issued:
    issued = _Issued()
    closes: list[IssuedClose] = []
    log: list[PolicyLogEntry] = []  # versions and close times by position
    for event in own:
        envelope = event.envelope
        if not _OWN.knows(envelope.type):
            continue
        match _OWN.decode(envelope):
            case pb.PeriodOpened() as opened:
                issued.history.periods.append(
                    make_period(opened.period_id, iso_date_of(opened, "start_day"), iso_date_of(opened, "end_day"))
                )
            case pb.PeriodClosed() as closed:
                marks = {(m.topic, m.partition): m.position for m in closed.marks}
                closed_at = required_instant_of(closed, "close_time")
                closes.append(IssuedClose(closed.period_id, closed_at, closed.statement_hash, marks, closed.statements))
                issued.close_at[closed.period_id] = event.position
                issued.closed_by[closed.period_id] = _recorded_by(envelope)
                log.append((envelope.position, closed_at))
            case pb.StatementIssued() as statement:
                payee = payee_of(statement)
                issued.history.statements.setdefault(statement.period_id, {})[payee] = issued_digest(statement.lines)
                issued.statement_at[(statement.period_id, payee)] = event.position
                issued.statement_by[(statement.period_id, payee)] = _recorded_by(envelope)
            case pb.PolicyVersionRecorded() as recorded:
                log.append((envelope.position, policy_from_message(recorded)))
    issued.history.closes = sorted(closes, key=lambda c: c.closed_at)
    issued.history.policies = policies_in_force(log)  # as the live service keeps them
    return issued


def _recorded_by(envelope: EventEnvelope) -> str:
    return str(Attribution(actor_of(envelope.actor), actor_of(envelope.caused_by), envelope.principal))


def source_facts(sources: Sequence[PublishedEvent]) -> list[SourceFact]:
    decoder = InboxProjection.decoder
    found: dict[str, SourceFact] = {}
    for event in sources:
        envelope = event.envelope
        if envelope.event_id in found:
            continue
        fact = fact_in(decoder, envelope)
        if fact is not None:
            kind, body = fact
            found[envelope.event_id] = SourceFact(event.topic, event.partition, envelope.position, envelope.event_id,
                                                  kind, body)  # fmt: skip
    return list(found.values())
