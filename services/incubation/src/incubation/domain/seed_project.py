"""A seed project: financing commitments paid out in tranches, each gated by a milestone.

A milestone moves open -> submitted (evidence) -> approved, or back from submitted to
rejected (with a reason) and then submitted again. Its tranche is released only once
it is approved, drawn from the funders pro rata to what each committed, to the minor unit.

Draws are cumulative (`cumulative_draws`): after each release a funder has drawn its
largest-remainder share of everything released so far, so rounding never accumulates
and the last tranche leaves every funder having paid exactly its commitment.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event

from ipshare_kernel.errors import Conflict, DomainError, NotFound
from ipshare_kernel.money import Money, allocate

FUNDER_KINDS = ("member", "seed_fund", "investor")


class MilestoneStatus(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    APPROVED = "approved"


@dataclass
class Milestone:
    milestone_id: str
    description: str
    due_date: date
    tranche: Money
    status: MilestoneStatus = MilestoneStatus.OPEN
    evidence: list[str] = field(default_factory=list)
    submitted_on: date | None = None  # the latest evidence
    decided_on: date | None = None
    rejection_reason: str = ""
    released_on: date | None = None

    def overdue(self, today: date) -> bool:
        return self.status is not MilestoneStatus.APPROVED and self.due_date < today


@dataclass(frozen=True, slots=True)
class Commitment:
    funder_kind: str
    funder_id: str
    amount: Money

    @property
    def key(self) -> tuple[str, str]:
        return (self.funder_kind, self.funder_id)


@dataclass(frozen=True, slots=True)
class MilestonePlan:
    """A milestone as proposed when a project opens."""

    description: str
    due_date: date
    tranche: Money


class SeedProject(Aggregate):
    class Opened(Aggregate.Created):
        spin_off_id: str
        team: str
        title: str
        commitments: list[dict[str, Any]]  # funder_kind, funder_id, amount{amount, currency}
        milestones: list[dict[str, Any]]  # milestone_id, description, due_date, tranche{amount, currency}
        effective_date: date

    class EvidenceSubmitted(Aggregate.Event):
        milestone_id: str
        evidence: list[str]
        effective_date: date

    class MilestoneApproved(Aggregate.Event):
        milestone_id: str
        effective_date: date

    class MilestoneRejected(Aggregate.Event):
        milestone_id: str
        reason: str
        effective_date: date

    class TrancheReleased(Aggregate.Event):
        milestone_id: str
        amount: dict[str, Any]
        funders: list[dict[str, Any]]  # funder_kind, funder_id, amount
        effective_date: date

    @event(Opened)
    def __init__(
        self,
        spin_off_id: str,
        team: str,
        title: str,
        commitments: list[dict[str, Any]],
        milestones: list[dict[str, Any]],
        effective_date: date,
    ) -> None:
        self.spin_off_id = spin_off_id
        self.team = team
        self.title = title
        self.opened_on = effective_date
        self.commitments = [
            Commitment(c["funder_kind"], c["funder_id"], Money.from_dict(c["amount"])) for c in commitments
        ]
        self.drawn: dict[tuple[str, str], int] = {c.key: 0 for c in self.commitments}
        self.milestones: dict[str, Milestone] = {
            m["milestone_id"]: Milestone(
                m["milestone_id"], m["description"], date.fromisoformat(m["due_date"]), Money.from_dict(m["tranche"])
            )
            for m in milestones
        }

    @classmethod
    def open(
        cls,
        *,
        title: str,
        commitments: list[Commitment],
        milestones: list[MilestonePlan],
        effective_date: date,
        spin_off_id: uuid.UUID | None = None,
        team: str = "",
    ) -> SeedProject:
        """A project of a spin-off, or of a team before it incorporates (then `team` names it)."""
        if not title.strip():
            raise DomainError("a seed project needs a title")
        if spin_off_id is None and not team.strip():
            raise DomainError("a seed project belongs to a spin-off or names the team before incorporation")
        _check_funding(commitments, milestones)
        return cls(
            spin_off_id=str(spin_off_id or ""),
            team=team.strip(),
            title=title.strip(),
            commitments=[
                {"funder_kind": c.funder_kind, "funder_id": c.funder_id, "amount": c.amount.as_dict()}
                for c in commitments
            ],
            milestones=[
                {
                    "milestone_id": str(uuid.uuid4()),
                    "description": m.description.strip(),
                    "due_date": m.due_date.isoformat(),
                    "tranche": m.tranche.as_dict(),
                }
                for m in sorted(milestones, key=lambda m: m.due_date)
            ],
            effective_date=effective_date,
        )

    # ---- queries ----------------------------------------------------------------------------

    @property
    def currency(self) -> str:
        return self.commitments[0].amount.currency

    @property
    def committed(self) -> Money:
        return Money(sum(c.amount.amount for c in self.commitments), self.currency)

    @property
    def released(self) -> Money:
        return Money(sum(m.tranche.amount for m in self.milestones.values() if m.released_on), self.currency)

    def members_involved(self) -> set[str]:
        return {c.funder_id for c in self.commitments if c.funder_kind == "member"}

    def milestone(self, milestone_id: str) -> Milestone:
        found = self.milestones.get(milestone_id)
        if found is None:
            raise NotFound("no such milestone in this seed project", milestone_id=milestone_id)
        return found

    # ---- commands ---------------------------------------------------------------------------

    def submit_evidence(self, milestone_id: str, evidence: list[str], day: date) -> None:
        milestone = self.milestone(milestone_id)
        if milestone.status is MilestoneStatus.APPROVED:
            raise Conflict("the milestone is already approved", milestone_id=milestone_id)
        if not [e for e in evidence if e.strip()]:
            raise DomainError("evidence names at least one document or link")
        _in_order(day, "evidence", [(self.opened_on, "the project opened"),
                                    (milestone.decided_on, "the milestone was last decided")])  # fmt: skip
        self._evidence_submitted(milestone_id=milestone_id, evidence=[e.strip() for e in evidence if e.strip()],
                                 effective_date=day)  # fmt: skip

    def approve(self, milestone_id: str, day: date) -> None:
        self._decidable(milestone_id, day)
        self._milestone_approved(milestone_id=milestone_id, effective_date=day)

    def reject(self, milestone_id: str, reason: str, day: date) -> None:
        self._decidable(milestone_id, day)
        if not reason.strip():
            raise DomainError("a rejection gives its reason")
        self._milestone_rejected(milestone_id=milestone_id, reason=reason.strip(), effective_date=day)

    def release_tranche(self, milestone_id: str, day: date) -> list[dict[str, Any]]:
        """Pay the milestone's tranche, drawn from the funders pro rata to their commitments."""
        milestone = self.milestone(milestone_id)
        if milestone.status is not MilestoneStatus.APPROVED:
            raise Conflict(
                f"milestone {milestone.description!r} is {milestone.status}: its tranche waits for approval",
                milestone_id=milestone_id, milestone=milestone.description, status=str(milestone.status),
            )  # fmt: skip
        if milestone.released_on is not None:
            raise Conflict("the tranche is already released", released_on=milestone.released_on.isoformat())
        _in_order(day, "the release", [(milestone.decided_on, "the milestone was approved")])
        split = cumulative_draws(
            milestone.tranche.amount, self.released.amount, self.drawn,
            {c.key: c.amount.amount for c in self.commitments},
        )  # fmt: skip
        funders = [
            {"funder_kind": kind, "funder_id": funder_id, "amount": amount}
            for (kind, funder_id), amount in sorted(split.items())
        ]
        self._tranche_released(milestone_id=milestone_id, amount=milestone.tranche.as_dict(), funders=funders,
                               effective_date=day)  # fmt: skip
        return funders

    def _decidable(self, milestone_id: str, day: date) -> Milestone:
        milestone = self.milestone(milestone_id)
        if milestone.status is not MilestoneStatus.SUBMITTED:
            raise Conflict(
                f"only a milestone with evidence submitted is decided; this one is {milestone.status}",
                milestone_id=milestone_id, status=str(milestone.status),
            )  # fmt: skip
        _in_order(day, "the decision", [(milestone.submitted_on, "its evidence was submitted")])
        return milestone

    @event(EvidenceSubmitted)
    def _evidence_submitted(self, milestone_id: str, evidence: list[str], effective_date: date) -> None:
        milestone = self.milestones[milestone_id]
        milestone.status = MilestoneStatus.SUBMITTED
        milestone.evidence.extend(evidence)
        milestone.submitted_on = effective_date

    @event(MilestoneApproved)
    def _milestone_approved(self, milestone_id: str, effective_date: date) -> None:
        milestone = self.milestones[milestone_id]
        milestone.status, milestone.decided_on, milestone.rejection_reason = (
            MilestoneStatus.APPROVED,
            effective_date,
            "",
        )

    @event(MilestoneRejected)
    def _milestone_rejected(self, milestone_id: str, reason: str, effective_date: date) -> None:
        milestone = self.milestones[milestone_id]
        milestone.status, milestone.decided_on, milestone.rejection_reason = (
            MilestoneStatus.REJECTED,
            effective_date,
            reason,
        )

    @event(TrancheReleased)
    def _tranche_released(
        self, milestone_id: str, amount: dict[str, Any], funders: list[dict[str, Any]], effective_date: date
    ) -> None:
        self.milestones[milestone_id].released_on = effective_date
        for draw in funders:
            key = (draw["funder_kind"], draw["funder_id"])
            self.drawn[key] = self.drawn.get(key, 0) + draw["amount"]


Funder = tuple[str, str]


def _in_order(day: date, what: str, after: list[tuple[date | None, str]]) -> None:
    """Refuse a step dated before a step it follows (a 422 naming the date it must not precede)."""
    for earlier, since in after:
        if earlier is not None and day < earlier:
            raise DomainError(
                f"{what} is dated {day.isoformat()}, before {since} on {earlier.isoformat()}",
                field="effective_date", not_before=earlier.isoformat(),
            )  # fmt: skip


def cumulative_draws(
    tranche: int, released_before: int, drawn: Mapping[Funder, int], commitments: Mapping[Funder, int]
) -> dict[Funder, int]:
    """Each funder's draw on a tranche: its share of everything released so far, less what it drew.

    The cumulative share is `allocate(released, commitments)` (largest remainder). A larger
    total can give a funder one unit less than a smaller one did (the Alabama paradox of
    largest remainders); that funder then draws nothing, and the unit is taken back from a
    funder whose share was rounded up, the smallest remainder first, so no draw is negative
    and every funder's cumulative draw stays within one minor unit of its exact share.
    """
    released = released_before + tranche
    whole = sum(commitments.values())
    target = allocate(released, commitments)
    draws = {k: target[k] - drawn.get(k, 0) for k in sorted(commitments)}
    short = sum(-d for d in draws.values() if d < 0)
    if short:
        remainder = {k: released * w % whole for k, w in commitments.items()}
        rounded_up = [k for k, d in draws.items() if d > 0 and target[k] * whole > released * commitments[k]]
        for k in draws:
            draws[k] = max(draws[k], 0)
        for k in sorted(rounded_up, key=lambda k: (remainder[k], k))[:short]:
            draws[k] -= 1
    return draws


def _check_funding(commitments: list[Commitment], milestones: list[MilestonePlan]) -> None:
    if not commitments:
        raise DomainError("a seed project has at least one financing commitment")
    if not milestones:
        raise DomainError("a seed project has at least one milestone")
    for c in commitments:
        if c.funder_kind not in FUNDER_KINDS:
            raise DomainError(f"unknown funder kind {c.funder_kind!r}", allowed=list(FUNDER_KINDS))
        if c.amount.amount <= 0:
            raise DomainError("commitments are above zero", funder_id=c.funder_id)
    if len({c.key for c in commitments}) != len(commitments):
        raise DomainError("each funder commits once")
    currencies = {c.amount.currency for c in commitments} | {m.tranche.currency for m in milestones}
    if len(currencies) != 1:
        raise DomainError("commitments and tranches are in one currency", currencies=sorted(currencies))
    if any(m.tranche.amount <= 0 or not m.description.strip() for m in milestones):
        raise DomainError("each milestone has a description and a tranche above zero")
    committed = sum(c.amount.amount for c in commitments)
    tranches = sum(m.tranche.amount for m in milestones)
    if tranches != committed:
        raise DomainError("the tranches pay out exactly what is committed", committed=committed, tranches=tranches)
