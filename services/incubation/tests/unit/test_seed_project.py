"""Seed projects: milestones gate their tranches; tranches draw on funders exactly."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incubation.domain.seed_project import Commitment, MilestonePlan, MilestoneStatus, SeedProject
from ipshare.errors import Conflict, DomainError
from ipshare.money import Money

OPENED = date(2025, 1, 1)


def project(commitments: list[int] | None = None, tranches: list[int] | None = None) -> SeedProject:
    amounts = commitments or [600_000, 400_000]
    return SeedProject.open(
        title="Laser head prototype",
        commitments=[Commitment("member", f"m{i}", Money(a, "CNY")) for i, a in enumerate(amounts)],
        milestones=[
            MilestonePlan(f"step {i}", date(2025, 3 + i, 1), Money(t, "CNY"))
            for i, t in enumerate(tranches or [300_000, 700_000])
        ],
        effective_date=OPENED,
        team="laser team",
    )


def first(p: SeedProject) -> str:
    return next(iter(p.milestones))


def test_a_tranche_waits_for_its_milestone_and_the_409_names_it() -> None:
    p = project()
    with pytest.raises(Conflict, match="'step 0' is open") as refused:
        p.release_tranche(first(p), date(2025, 2, 1))
    assert refused.value.details["milestone_id"] == first(p)
    p.submit_evidence(first(p), ["https://example.org/test-report.pdf"], date(2025, 2, 20))
    with pytest.raises(Conflict, match="is submitted"):
        p.release_tranche(first(p), date(2025, 2, 21))


def test_a_rejected_milestone_can_be_resubmitted_then_approved_and_paid_once() -> None:
    p = project()
    m = first(p)
    p.submit_evidence(m, ["report v1"], date(2025, 2, 20))
    p.reject(m, "no yield figures", date(2025, 2, 22))
    assert p.milestones[m].status is MilestoneStatus.REJECTED
    with pytest.raises(Conflict, match="is rejected"):
        p.release_tranche(m, date(2025, 2, 23))
    p.submit_evidence(m, ["report v2"], date(2025, 2, 25))
    p.approve(m, date(2025, 2, 26))
    funders = p.release_tranche(m, date(2025, 2, 27))
    assert funders == [
        {"funder_kind": "member", "funder_id": "m0", "amount": 180_000},
        {"funder_kind": "member", "funder_id": "m1", "amount": 120_000},
    ]
    assert p.released == Money(300_000, "CNY")
    with pytest.raises(Conflict, match="already released"):
        p.release_tranche(m, date(2025, 2, 28))


def test_only_a_submitted_milestone_is_decided_and_a_rejection_gives_a_reason() -> None:
    p = project()
    with pytest.raises(Conflict, match="is open"):
        p.approve(first(p), date(2025, 2, 1))
    p.submit_evidence(first(p), ["x"], date(2025, 2, 1))
    with pytest.raises(DomainError, match="reason"):
        p.reject(first(p), "  ", date(2025, 2, 2))


def test_tranches_must_pay_out_exactly_what_is_committed() -> None:
    with pytest.raises(DomainError, match="exactly what is committed"):
        project([500_000], [300_000, 300_000])
    with pytest.raises(DomainError, match="one currency"):
        SeedProject.open(
            title="x", commitments=[Commitment("seed_fund", "fund", Money(100, "CNY"))],
            milestones=[MilestonePlan("a", date(2025, 2, 1), Money(100, "USD"))], effective_date=OPENED, team="t",
        )  # fmt: skip
    with pytest.raises(DomainError, match="spin-off or names the team"):
        SeedProject.open(title="x", commitments=[], milestones=[], effective_date=OPENED)


def test_overdue_means_due_and_not_yet_approved() -> None:
    p = project()
    m = p.milestones[first(p)]
    assert not m.overdue(date(2025, 3, 1))
    assert m.overdue(date(2025, 3, 2))


@given(
    commitments=st.lists(st.integers(1, 10**9), min_size=1, max_size=6),
    cut=st.floats(0.01, 0.99),
)
def test_every_tranche_is_drawn_from_the_funders_to_the_minor_unit(commitments: list[int], cut: float) -> None:
    total = sum(commitments)
    head = max(1, min(total - 1, int(total * cut))) if total > 1 else total
    tranches = [head, total - head] if total > 1 else [total]
    p = project(commitments, tranches)
    drawn: dict[str, int] = {}
    for m in list(p.milestones):
        p.submit_evidence(m, ["e"], date(2025, 2, 1))
        p.approve(m, date(2025, 2, 2))
        funders = p.release_tranche(m, date(2025, 2, 3))
        assert sum(f["amount"] for f in funders) == p.milestones[m].tranche.amount
        for f in funders:
            drawn[f["funder_id"]] = drawn.get(f["funder_id"], 0) + f["amount"]
    assert sum(drawn.values()) == total
    for i, committed in enumerate(commitments):
        assert abs(drawn.get(f"m{i}", 0) - committed) <= len(tranches)
