"""Replay gives the issued statements back whatever order the topics and partitions are read in.

A live service consumes partitions in some interleaving and closes periods in between;
the replay reads the same events in another order. `dated_rows` places each fact by the
marks of the closes, so every recomputed statement hash must equal the issued one.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from revenue_share.adapters.inbox import FactRow
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.statements import statement_hash
from revenue_share.ledger_feed import add_fact
from revenue_share.replay import (
    IssuedClose,
    IssuedHistory,
    SourceFact,
    dated_rows,
    period_of,
    recompute,
    statement_digest,
)

REGISTRY, COMMERCIALIZATION = "ipshare.ip-registry.v1", "ipshare.commercialization.v1"
PERIODS = [period_of(f"2024-Q{q}", f"2024-{3 * q - 2:02d}-01", end) for q, end in
           enumerate(("2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31"), start=1)]  # fmt: skip
CLOCK = datetime(2025, 1, 6, tzinfo=UTC)


def source_facts(receipts: list[tuple[int, int, int]], transfer_day: int) -> list[SourceFact]:
    """Two members, two assets, inventors, a backdated transfer and `receipts` of (asset, day, amount)."""
    facts: list[tuple[str, str, dict[str, Any]]] = [
        ("m1", "member", {"member_id": "m1", "kind": "university", "state_established": True}),
        ("m2", "member", {"member_id": "m2", "kind": "enterprise", "state_established": False}),
    ]
    for asset in ("A", "B"):
        facts.append((asset, "inventors", {"asset_id": asset, "effective_date": "2023-06-01",
                                           "contributions": {"r1": 6000, "r2": 4000},
                                           "affiliations": {"r1": "m1", "r2": "m2"}}))  # fmt: skip
        facts.append((asset, "ownership", {"asset_id": asset, "effective_date": "2023-06-01",
                                           "owners": {"m1": 5000, "m2": 5000}}))  # fmt: skip
    transfer = date(2024, 1, 1) + timedelta(days=transfer_day)
    facts.append(("A", "ownership", {"asset_id": "A", "effective_date": transfer.isoformat(),
                                     "owners": {"m1": 7000, "m2": 3000}}))  # fmt: skip
    registry = _published(REGISTRY, facts)
    sales = [
        (f"L{asset}", "receipt", {"license_id": f"L{asset}", "asset_ids": ["AB"[asset]], "kind": "royalty",
                                  "amount": amount, "currency": "CNY", "asset_split": {},
                                  "effective_date": (date(2024, 1, 1) + timedelta(days=day)).isoformat()})
        for asset, day, amount in receipts
    ]  # fmt: skip
    return registry + _published(COMMERCIALIZATION, sales)


def _published(topic: str, facts: list[tuple[str, str, dict[str, Any]]]) -> list[SourceFact]:
    """As a relay publishes: log positions in order, keyed by aggregate onto two partitions."""
    return [
        SourceFact(topic, sum(map(ord, key)) % 2, position, f"{topic}/{position}", kind, body)
        for position, (key, kind, body) in enumerate(facts, start=1)
    ]


def live_run(facts: list[SourceFact], order: random.Random, close_after: list[int]) -> IssuedHistory:
    """Consume the partitions in a random interleaving, closing periods after the given counts."""
    queues: dict[tuple[str, int], list[SourceFact]] = {}
    for fact in sorted(facts, key=lambda f: f.position):
        queues.setdefault((fact.topic, fact.partition), []).append(fact)
    ledger, history, marks = Ledger(), IssuedHistory(periods=list(PERIODS)), dict[tuple[str, int], int]()
    for period in PERIODS:
        ledger.define_period(period)
    clock, consumed = CLOCK, 0
    while any(queues.values()):
        clock += timedelta(minutes=1)
        fact = queues[order.choice([k for k, q in queues.items() if q])].pop(0)
        add_fact(ledger, FactRow(consumed, fact.fact_id, fact.kind, fact.body, clock, fact.position))
        marks[(fact.topic, fact.partition)] = fact.position
        consumed += 1
        while len(history.closes) < len(close_after) and close_after[len(history.closes)] == consumed:
            clock += timedelta(minutes=1)
            period_id = PERIODS[len(history.closes)].period_id
            statements = ledger.close_period(period_id, clock)
            history.closes.append(IssuedClose(period_id, clock, statement_hash(statements), dict(marks),
                                              len(statements)))  # fmt: skip
            history.statements[period_id] = {str(s.payee): statement_digest(s) for s in statements}
    return history


receipt = st.tuples(st.integers(0, 1), st.integers(0, 300), st.integers(1, 5_000_000))


@settings(max_examples=60, deadline=None)
@given(
    receipts=st.lists(receipt, min_size=1, max_size=8),
    transfer_day=st.integers(0, 300),
    live_seed=st.integers(),
    replay_seed=st.integers(),
    closes=st.lists(st.integers(1, 16), min_size=1, max_size=3),
)
def test_replay_matches_the_issued_statements_in_any_read_order(
    receipts: list[tuple[int, int, int]], transfer_day: int, live_seed: int, replay_seed: int, closes: list[int]
) -> None:
    facts = source_facts(receipts, transfer_day)
    close_after = sorted(min(c, len(facts)) for c in closes)
    history = live_run(facts, random.Random(live_seed), close_after)

    read_order = facts[:]
    random.Random(replay_seed).shuffle(read_order)
    checks = recompute(dated_rows(read_order, history.closes, CLOCK + timedelta(days=1)), history)

    assert [c.period_id for c in checks] == [c.period_id for c in history.closes]
    assert all(c.identical for c in checks), [c.differences for c in checks if not c.identical]


def test_a_changed_fact_is_named_by_the_replay() -> None:
    facts = source_facts([(0, 10, 1_000_001)], transfer_day=200)
    history = live_run(facts, random.Random(1), [len(facts)])
    tampered = [
        f
        if f.kind != "receipt"
        else SourceFact(f.topic, f.partition, f.position, f.fact_id, f.kind, {**f.body, "amount": 1_000_000})
        for f in facts
    ]
    [check] = recompute(dated_rows(tampered, history.closes, CLOCK + timedelta(days=1)), history)
    assert not check.identical
    assert check.issued_hash != check.replayed_hash
    assert check.differences
