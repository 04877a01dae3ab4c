"""An issued statement line carries one digest over its source groups, however many there are."""

from __future__ import annotations

from ipshare_contracts.revenueshare.v1 import events_pb2 as pb
from revenue_share.domain.statements import sources_digest
from revenue_share.replay import issued_summary

GROUPS = [f"{n:064x}" for n in (3, 1, 2)]


def test_the_digest_does_not_depend_on_the_order_of_the_groups() -> None:
    assert sources_digest(GROUPS) == sources_digest(sorted(GROUPS)) != sources_digest(GROUPS[:2])


def test_a_line_issued_with_one_digest_per_group_compares_equal_to_the_same_line_issued_now() -> None:
    earlier = pb.StatementLine(currency="CNY", step="owner_share", amount=7, policy_version="v1")
    earlier.source_digests.extend(GROUPS)
    now = pb.StatementLine(currency="CNY", step="owner_share", amount=7, policy_version="v1")
    now.sources_digest = sources_digest(GROUPS)
    assert issued_summary([earlier], "member:m1") == issued_summary([now], "member:m1")
