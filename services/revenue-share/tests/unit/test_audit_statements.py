"""The auditor's replay from verified logs: issued statements that match, and ones altered after issue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf.message import Message

from ipshare import bus
from ipshare.audit_check import PublishedEvent
from ipshare.envelope import actor_message
from ipshare_contracts.commercialization.v1 import events_pb2 as commercialization
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry
from ipshare_contracts.money.v1.money_pb2 import Money
from ipshare_contracts.revenueshare.v1 import events_pb2 as pb
from ipshare_kernel.actor import Actor
from revenue_share.audit import check_statements, source_facts
from revenue_share.entrypoints.grpc import statement_message
from revenue_share.replay import IssuedClose, IssuedHistory, dated_rows, period_of, recompute

UNIVERSITY, INSTITUTE, ALICE, BOB = (str(uuid.uuid4()) for _ in range(4))
ASSET, LICENSE = str(uuid.uuid4()), str(uuid.uuid4())
CLOSED_AT = datetime(2026, 12, 1, 12, tzinfo=UTC)


CLOSER = Actor("oidc|zhou-jie", "finance", "Zhou Jie")


def published(source: str, position: int, aggregate_id: str, payload: Message) -> PublishedEvent:
    envelope = EventEnvelope(event_id=str(uuid.uuid4()), source=source, type=payload.DESCRIPTOR.full_name,
                             aggregate_id=aggregate_id, aggregate_version=1, position=position)  # fmt: skip
    if source == "revenue-share":  # the close and what it issues are finance's acts
        envelope.actor.CopyFrom(actor_message(CLOSER))
    envelope.payload.Pack(payload)
    return PublishedEvent(bus.topic_of(source), 0, position - 1, envelope)


def sources() -> list[PublishedEvent]:
    inventors = [
        registry.Inventor(researcher_id=ALICE, contribution_bps=7000, affiliation_member_id=UNIVERSITY),
        registry.Inventor(researcher_id=BOB, contribution_bps=3000, affiliation_member_id=INSTITUTE),
    ]
    owners = [
        registry.OwnerShare(member_id=UNIVERSITY, share_bps=6000),
        registry.OwnerShare(member_id=INSTITUTE, share_bps=4000),
    ]
    receipt = commercialization.RevenueReceived(license_id=LICENSE, asset_ids=[ASSET], kind="upfront",
                                                amount=Money(amount=1_000_001, currency="CNY"),
                                                effective_date="2026-11-20")  # fmt: skip
    return [
        published("ip-registry", 1, UNIVERSITY, registry.MemberAdmitted(kind="university", state_established=True)),
        published("ip-registry", 2, INSTITUTE, registry.MemberAdmitted(kind="research_institute")),
        published("ip-registry", 3, ASSET, registry.AssetRegistered(inventors=inventors, effective_date="2026-11-01")),
        published("ip-registry", 4, ASSET, registry.OwnershipEffective(owners=owners, effective_date="2026-11-02")),
        published("commercialization", 1, LICENSE, receipt),
    ]  # fmt: skip


def issued(events: Sequence[PublishedEvent]) -> list[PublishedEvent]:
    """What revenue-share issues when it closes 2026 having learned every source event."""
    marks = {(e.topic, e.partition): e.envelope.position for e in events}
    history = IssuedHistory(periods=[period_of("2026", "2026-01-01", "2026-12-31")],
                            closes=[IssuedClose("2026", CLOSED_AT, "", marks, 0)])  # fmt: skip
    [check] = recompute(dated_rows(source_facts(events), history.closes, CLOSED_AT), history)
    own = [
        pb.PeriodOpened(period_id="2026", start="2026-01-01", end="2026-12-31"),
        pb.PeriodClosed(period_id="2026", closed_at=CLOSED_AT.isoformat(), statement_hash=check.replayed_hash,
                        marks=[pb.AppliedMark(topic=t, partition=p, position=pos) for (t, p), pos in marks.items()],
                        statements=len(check.statements)),
        *(statement_message(s) for s in check.statements),
    ]  # fmt: skip
    return [published("revenue-share", n, str(uuid.uuid4()), message) for n, message in enumerate(own, start=1)]


def test_statements_issued_on_the_logs_are_recomputed_identical() -> None:
    events = sources()
    verified, problems = check_statements([*events, *issued(events)])
    assert problems == []
    [line] = verified
    assert line.startswith("revenue-share: period 2026 replayed from 5 source facts: 4 statements identical")
    assert line.endswith(", closed by Zhou Jie (oidc|zhou-jie), finance")


def test_a_statement_altered_after_issue_is_named_with_its_event() -> None:
    events = sources()
    own = issued(events)
    altered = own[2]  # the first StatementIssued, position 2 of revenue-share's log
    statement = pb.StatementIssued()
    altered.envelope.payload.Unpack(statement)
    statement.lines[0].amount += 1
    altered.envelope.payload.Pack(statement)

    _, problems = check_statements([*events, *own])
    [problem] = problems
    assert problem.kind == "statement_differs"
    assert problem.message == (
        f"period 2026, statement of {statement.payee_kind}:{statement.payee_id}"
        + (f"/{statement.payee_account}" if statement.payee_account else "")
        + " (the StatementIssued event at position 2, recorded by Zhou Jie (oidc|zhou-jie), finance): the issued "
        "lines differ from the replayed ones"
    )


def test_a_close_whose_hash_was_altered_is_named() -> None:
    events = sources()
    own = issued(events)
    closed = pb.PeriodClosed()
    own[1].envelope.payload.Unpack(closed)
    closed.statement_hash = "0" * 64
    own[1].envelope.payload.Pack(closed)

    _, problems = check_statements([*events, *own])
    assert [p.kind for p in problems] == ["statement_hash_differs"]
    assert problems[0].message.startswith("period 2026: the statement hash issued in the PeriodClosed event at "
                                          "position 1 (recorded by Zhou Jie (oidc|zhou-jie), finance) is "
                                          "0000000000000000…, the replay gives ")  # fmt: skip
