"""A replay's report stays cheap to print: asyncio may take the repr of a task's result."""

from __future__ import annotations

from datetime import UTC, datetime

from revenue_share.domain.facts import Payee, PayeeKind
from revenue_share.domain.statements import Statement
from revenue_share.replay import PeriodCheck


def test_the_repr_of_a_period_check_leaves_out_its_statements() -> None:
    statements = tuple(
        Statement("2026", Payee(PayeeKind.RESEARCHER, f"r{n}"), datetime(2027, 1, 4, tzinfo=UTC), (), ())
        for n in range(1_000)
    )
    check = PeriodCheck("2026", "a" * 64, "a" * 64, (), statements)
    assert "r999" not in repr(check)
    assert len(repr(check)) < 300
