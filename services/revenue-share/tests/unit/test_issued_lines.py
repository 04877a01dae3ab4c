"""An issued statement line carries one digest over its source groups, however many there are,
and no source ids."""

from __future__ import annotations

from datetime import UTC, datetime

from ipshare_contracts.revenueshare.v1 import events_pb2 as pb
from revenue_share.domain.facts import Payee, PayeeKind, Step
from revenue_share.domain.statements import (
    Balance,
    SourceGroup,
    Statement,
    StatementLine,
    as_issued,
    sources_digest,
    statement_hash,
)
from revenue_share.replay import issued_digest

GROUPS = [f"{n:064x}" for n in (3, 1, 2)]
CLOSED = datetime(2025, 4, 2, tzinfo=UTC)


def test_the_digest_does_not_depend_on_the_order_of_the_groups() -> None:
    assert sources_digest(GROUPS) == sources_digest(sorted(GROUPS)) != sources_digest(GROUPS[:2])


def test_a_line_issued_with_one_digest_per_group_compares_equal_to_the_same_line_issued_now() -> None:
    earlier = pb.StatementLine(currency="CNY", step="owner_share", amount=7, policy_version="v1")
    earlier.source_digests.extend(GROUPS)
    now = pb.StatementLine(currency="CNY", step="owner_share", amount=7, policy_version="v1")
    now.sources_digest = sources_digest(GROUPS)
    assert issued_digest([earlier]) == issued_digest([now])


def test_statements_as_issued_keep_their_hash_and_digests_but_not_their_source_ids() -> None:
    shared = SourceGroup.of("asset-1", ["r2", "r1"], ["o1"])
    lines = tuple(
        StatementLine(Payee(PayeeKind.MEMBER, member), "CNY", Step.OWNER_SHARE, 5, "v1", False, "", (shared,))
        for member in ("m1", "m2")
    )
    statement = Statement("2025-Q1", Payee(PayeeKind.MEMBER, "m1"), CLOSED, lines, (Balance("CNY", 0, 10, 10, 0),))

    (issued,) = as_issued([statement])

    assert statement_hash([issued]) == statement_hash([statement])
    assert [line.sources_digest for line in issued.lines] == [line.sources_digest for line in lines]
    assert all(line.source_event_ids == () for line in issued.lines)
    assert issued.lines[0].sources[0] is issued.lines[1].sources[0]  # a shared group crosses once
