"""The live service's statements against the reference model's, on the facts revenue-share holds.

The reference model (`services/revenue-share/tests/reference/payout_reference.py`) is fed
what revenue-share was told, read from the outside of its logic: the inbox rows in its
database (as its consumer stored them, with the time it learned each), the policy versions
and the periods and closes from its HTTP API. Its outcome for every closed period and the
first open one must equal the live statements (`GET .../statements`, `.../provisional`)
and reconciliations, payee by payee, line by line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import asyncpg
from client import Client, Disagreement

from ipshare.auth import Role
from revenue_share.adapters.inbox import FactRow
from revenue_share.domain.facts import Payee, PayeeKind, Period, Step
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy_versions import Policy, policy_of
from revenue_share.ledger_feed import add_fact

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "revenue-share" / "tests" / "reference"))
from payout_reference import History, RefBalance, RefStatement, settle


class _Facts:
    """Takes the domain facts `ledger_feed.add_fact` makes of inbox rows, as a ledger would."""

    def __init__(self) -> None:
        self.facts: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("add_"):
            raise AttributeError(name)
        return self.facts.append


async def _inbox(database_url: str) -> list[FactRow]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT seq, fact_id, kind, body, recorded_at, source_position FROM facts ORDER BY seq")
    finally:
        await conn.close()
    return [FactRow(r["seq"], r["fact_id"], r["kind"], json.loads(r["body"]), r["recorded_at"], r["source_position"])
            for r in rows]  # fmt: skip


def _policy(out: dict[str, Any]) -> Policy:
    fields = {**out, "effective_date": date.fromisoformat(out["effective_date"]),
              "recorded_at": datetime.fromisoformat(out["recorded_at"])}  # fmt: skip
    return policy_of(fields)


def live_statements(answer: list[dict[str, Any]]) -> dict[Payee, RefStatement]:
    """Statements as the API serves them, in the reference model's form (`payout_reference.comparable`)."""
    found: dict[Payee, RefStatement] = {}
    for statement in answer:
        payee = Payee(PayeeKind(statement["payee"]["kind"]), statement["payee"]["id"], statement["payee"]["account"])
        lines: dict[tuple[str, Step, str, bool], int] = {}
        for line in statement["lines"]:
            key = (line["currency"], Step(line["step"]), line["policy_version"], line["adjustment"])
            lines[key] = lines.get(key, 0) + line["amount"]
        balances = {b["currency"]: RefBalance(b["carried_in"], b["entitled"], b["paid"], b["carried_out"])
                    for b in statement["balances"]}  # fmt: skip
        found[payee] = RefStatement({k: v for k, v in lines.items() if v}, balances)
    return found


def compare_with_reference(client: Client, database_url: str) -> int:
    """Every closed period and the first open one; returns how many periods agreed."""
    facts = _Facts()
    for row in asyncio.run(_inbox(database_url)):
        add_fact(cast(Ledger, facts), row)  # a stand-in that only collects what it is given
    policies = [_policy(p) for p in client.get("revenue-share", "/policies", Role.ADMIN).body]
    periods = client.get("revenue-share", "/periods").body
    history = History(
        facts=[*facts.facts, *policies],
        periods=[Period(p["period_id"], date.fromisoformat(p["start"]), date.fromisoformat(p["end"])) for p in periods],
        closes=sorted(((p["period_id"], datetime.fromisoformat(p["closed_at"])) for p in periods if p["closed_at"]),
                      key=lambda c: c[1]),
    )  # fmt: skip
    outcomes = settle(history)
    for outcome in outcomes:
        which = "statements" if outcome.closed_at else "provisional"
        live = live_statements(client.get("revenue-share", f"/periods/{outcome.period_id}/{which}").body)
        expected = {payee: _without_zero_lines(s) for payee, s in outcome.statements.items()}
        if live != expected:
            raise Disagreement(f"period {outcome.period_id} ({which}) differs from the reference model: "
                               f"{_first_difference(expected, live)}")  # fmt: skip
        _compare_reconciliation(client, outcome)
    return len(outcomes)


def _compare_reconciliation(client: Client, outcome: Any) -> None:
    rows = client.get("revenue-share", f"/periods/{outcome.period_id}/reconciliation").body
    live = {r["currency"]: (r["receipts"], r["carried_in"], r["operating_fees"], r["cost_recoveries"], r["payouts"],
                            r["carried_forward"], r["unallocated"]) for r in rows}  # fmt: skip
    expected = {c: (r.receipts, r.carried_in, r.operating_fees, r.cost_recoveries, r.payouts, r.carried_forward,
                    r.unallocated) for c, r in outcome.reconciliation.items()}  # fmt: skip
    if {c: v for c, v in live.items() if any(v)} != {c: v for c, v in expected.items() if any(v)}:
        raise Disagreement(f"reconciliation of {outcome.period_id} differs from the reference model: "
                           f"live {live}, reference {expected}")  # fmt: skip


def _without_zero_lines(statement: RefStatement) -> RefStatement:
    return RefStatement({k: v for k, v in statement.lines.items() if v}, statement.balances)


def _first_difference(expected: dict[Payee, RefStatement], live: dict[Payee, RefStatement]) -> str:
    for payee in sorted(expected.keys() | live.keys(), key=str):
        if expected.get(payee) != live.get(payee):
            return f"payee {payee}: reference {expected.get(payee)}, live {live.get(payee)}"
    return "no payee differs"
