"""Seed projects: milestones gate their tranches; tranches draw on funders exactly."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incubation.domain.seed_project import Commitment, MilestonePlan, MilestoneStatus, SeedProject, cumulative_draws
from ipshare_kernel.errors import Conflict, DomainError
from ipshare_kernel.money import Money

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


def release_all(p: SeedProject, order: list[str] | None = None) -> list[list[dict[str, Any]]]:
    """Approve and release every milestone (in `order`, else by due date): each release's draws."""
    released = []
    for m in order or list(p.milestones):
        p.submit_evidence(m, ["e"], date(2025, 2, 1))
        p.approve(m, date(2025, 2, 2))
        released.append(p.release_tranche(m, date(2025, 2, 3)))
    return released


def test_three_equal_funders_each_draw_exactly_their_commitment_over_three_tranches() -> None:
    p = project([10_001, 10_001, 10_001], [10_001, 10_001, 10_001])
    releases = release_all(p)
    drawn = {f"m{i}": 0 for i in range(3)}
    for funders in releases:
        for f in funders:
            drawn[f["funder_id"]] += f["amount"]
    assert drawn == {"m0": 10_001, "m1": 10_001, "m2": 10_001}
    assert [[f["amount"] for f in r] for r in releases] == [[3_334, 3_334, 3_333], [3_334, 3_333, 3_334],
                                                            [3_333, 3_334, 3_334]]  # fmt: skip


def test_a_funder_whose_rounded_share_shrinks_draws_nothing_rather_than_a_refund() -> None:
    # allocate(8) gives (3, 4, 1) but allocate(9) gives (4, 5, 0): the third funder would draw -1.
    commitments = {("member", "a"): 6, ("member", "b"): 8, ("member", "c"): 1}
    drawn = {("member", "a"): 3, ("member", "b"): 4, ("member", "c"): 1}
    draws = cumulative_draws(1, 8, drawn, commitments)
    assert draws == {("member", "a"): 0, ("member", "b"): 1, ("member", "c"): 0}


@st.composite
def funding(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    """Commitments, tranches summing to them, and an order of release."""
    commitments = draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=6))
    total = sum(commitments)
    cuts = sorted(draw(st.sets(st.integers(1, total - 1), max_size=min(7, total - 1))) if total > 1 else set())
    bounds = [0, *cuts, total]
    tranches = [b - a for a, b in itertools.pairwise(bounds)]
    return commitments, tranches, draw(st.permutations(range(len(tranches))))


@given(funding())
def test_funders_draw_exactly_their_commitments_and_each_tranche_to_the_minor_unit(
    case: tuple[list[int], list[int], list[int]],
) -> None:
    commitments, tranches, order = case
    p = project(commitments, tranches)
    ids = list(p.milestones)
    total, released = sum(commitments), 0
    drawn = {f"m{i}": 0 for i in range(len(commitments))}
    for m, funders in zip([ids[i] for i in order], release_all(p, [ids[i] for i in order]), strict=True):
        tranche = p.milestones[m].tranche.amount
        assert sum(f["amount"] for f in funders) == tranche
        assert all(f["amount"] >= 0 for f in funders)
        released += tranche
        for f in funders:
            drawn[f["funder_id"]] += f["amount"]
        for i, committed in enumerate(commitments):  # never more than a minor unit off the exact share
            assert abs(drawn[f"m{i}"] * total - released * committed) < total
    assert drawn == {f"m{i}": c for i, c in enumerate(commitments)}


def test_each_step_of_a_milestone_is_dated_on_or_after_the_step_before() -> None:
    p = project()
    m = first(p)
    with pytest.raises(DomainError, match="before the project opened") as early:
        p.submit_evidence(m, ["report"], date(2024, 12, 31))
    assert early.value.details == {"field": "effective_date", "not_before": "2025-01-01"}
    p.submit_evidence(m, ["report"], date(2025, 2, 20))
    with pytest.raises(DomainError, match="before its evidence was submitted on 2025-02-20"):
        p.approve(m, date(2025, 2, 19))
    with pytest.raises(DomainError, match="before its evidence"):
        p.reject(m, "thin", date(2025, 2, 19))
    p.reject(m, "thin", date(2025, 2, 21))
    with pytest.raises(DomainError, match="before the milestone was last decided"):
        p.submit_evidence(m, ["report v2"], date(2025, 2, 20))
    p.submit_evidence(m, ["report v2"], date(2025, 2, 25))
    p.approve(m, date(2025, 2, 26))
    with pytest.raises(DomainError, match="before the milestone was approved on 2025-02-26"):
        p.release_tranche(m, date(2025, 2, 25))
    p.release_tranche(m, date(2025, 2, 26))
    assert p.milestones[m].released_on == date(2025, 2, 26)
