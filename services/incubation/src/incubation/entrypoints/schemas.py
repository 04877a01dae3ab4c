"""Request and response bodies of the incubation HTTP API, and their mapping from the domain."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from incubation.application import BoardRow
from incubation.domain.cap_table import DilutedLine, Holder
from incubation.domain.seed_project import Commitment, Milestone, MilestonePlan, MilestoneStatus, SeedProject
from incubation.domain.spin_off import Contribution, ExerciseWindow, OptionGrant, SpinOff
from incubation.domain.vesting import VestingTerms, time_schedule
from ipshare.schemas import Body, MoneyIn, MoneyOut
from ipshare_kernel.money import Money

# The domain keeps these choices as tuples of strings (`HOLDER_KINDS`, `FUNDER_KINDS`, `FOUNDED_VIA`,
# `WINDOW_UNITS`) or checks them inline; a test holds each Literal to the domain's values.
HolderKind = Literal["member", "researcher", "investor", "other"]
FunderKind = Literal["member", "seed_fund", "investor"]
FoundedVia = Literal["license", "capital_contribution"]
WindowUnit = Literal["days", "months"]
MovementKind = Literal["issuance", "transfer", "repurchase", "cancellation"]  # not "exercise": exercising records it
DistributionKind = Literal["dividend", "exit"]
Acceleration = Literal["none", "single", "double"]


class HolderIn(Body):
    kind: HolderKind
    id: str = Field(min_length=1)

    def holder(self) -> Holder:
        return (self.kind, self.id)


class HolderOut(BaseModel):
    kind: HolderKind
    id: str

    @classmethod
    def of(cls, holder: Holder) -> HolderOut:
        return cls(kind=holder[0], id=holder[1])


# ---- spin-offs and cap tables ----------------------------------------------------------


class FoundSpinOff(Body):
    name: str = Field(min_length=1, max_length=200)
    asset_ids: list[uuid.UUID] = Field(min_length=1)
    founded_via: FoundedVia
    license_id: uuid.UUID | None = None
    share_classes: dict[str, int] = Field(min_length=1, description="share class -> authorized shares")
    effective_date: date | None = None


class ShareMovement(Body):
    kind: MovementKind
    share_class: str
    quantity: int = Field(gt=0)
    holder: HolderIn = Field(description="who receives an issuance, or gives up the shares otherwise")
    to: HolderIn | None = Field(None, description="the receiving holder of a transfer")
    note: str = ""
    effective_date: date | None = None


class ContributeIp(Body):
    member_id: uuid.UUID
    asset_ids: list[uuid.UUID] = Field(min_length=1)
    valuation: MoneyIn
    share_class: str
    shares: int = Field(gt=0)
    rewards: dict[uuid.UUID, int] = Field(
        default_factory=dict, description="researcher id -> shares passed to them out of the member's"
    )
    own_rule_document: str = Field(
        "", max_length=200,
        description="the document reference of the member's own reward rule, if it has one (Art. 45): it allows a "
        "reward under 50%, except for a state-established university or institute",
    )  # fmt: skip
    effective_date: date | None = None


class RewardResearchers(Body):
    rewards: dict[uuid.UUID, int] = Field(min_length=1)
    effective_date: date | None = None


class ContributionOut(BaseModel):
    contribution_id: str
    member_id: str
    asset_ids: list[str]
    valuation: MoneyOut
    share_class: str
    shares: int
    rewarded_shares: int
    reward_bps: int
    own_rule: bool
    own_rule_document: str = Field(description="the member's own reward rule, by document reference")
    member_state_established: bool
    below_statutory_floor: bool = Field(
        description="Art. 45: under 50% where the floor binds (only contributions recorded before it was enforced)"
    )

    @classmethod
    def of(cls, c: Contribution) -> ContributionOut:
        return cls(
            contribution_id=c.contribution_id, member_id=c.member_id, asset_ids=c.asset_ids,
            valuation=MoneyOut.of(c.valuation), share_class=c.share_class, shares=c.shares,
            rewarded_shares=c.rewarded, reward_bps=c.reward_bps, own_rule=c.own_rule,
            own_rule_document=c.own_rule_document, member_state_established=c.state_established,
            below_statutory_floor=c.below_statutory_floor,
        )  # fmt: skip


class KpiIn(Body):
    period: str = Field(min_length=1, description="e.g. 2026-Q2")
    revenue: MoneyIn | None = None
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$", description="for amounts not given")
    headcount: int = Field(ge=0)
    follow_on_funding: MoneyIn | None = None
    patents_filed: int = Field(0, ge=0)
    effective_date: date | None = None

    def revenue_money(self) -> Money:
        return self.revenue.money() if self.revenue else Money.zero(self.currency)

    def funding_money(self) -> Money:
        return self.follow_on_funding.money() if self.follow_on_funding else Money.zero(self.currency)


class Distribute(Body):
    kind: DistributionKind
    record_date: date
    amount: MoneyIn
    effective_date: date | None = None


class ProceedsLineOut(BaseModel):
    holder: HolderOut
    amount_minor: int


class DistributionOut(BaseModel):
    distribution_id: str
    kind: DistributionKind
    record_date: date
    amount: MoneyOut
    lines: list[ProceedsLineOut]
    paid_on: date

    @classmethod
    def of(cls, d: dict[str, Any]) -> DistributionOut:
        return cls(
            distribution_id=d["distribution_id"], kind=d["kind"], record_date=d["record_date"],
            amount=MoneyOut.of(Money.from_dict(d["amount"])), paid_on=d["paid_on"],
            lines=[ProceedsLineOut(holder=HolderOut(kind=x["holder_kind"], id=x["holder_id"]), amount_minor=x["amount"])
                   for x in d["lines"]],
        )  # fmt: skip


class KpiOut(BaseModel):
    period: str
    revenue: MoneyOut
    headcount: int
    follow_on_funding: MoneyOut
    patents_filed: int
    reported_on: date

    @classmethod
    def of(cls, k: dict[str, Any]) -> KpiOut:
        return cls(
            period=k["period"], revenue=MoneyOut.of(Money.from_dict(k["revenue"])), headcount=k["headcount"],
            follow_on_funding=MoneyOut.of(Money.from_dict(k["follow_on_funding"])),
            patents_filed=k["patents_filed"], reported_on=k["reported_on"],
        )  # fmt: skip


class PlanOut(BaseModel):
    plan_id: str
    name: str
    share_class: str
    pool_size: int


class SpinOffOut(BaseModel):
    spin_off_id: uuid.UUID
    name: str
    asset_ids: list[str]
    founded_via: FoundedVia
    license_id: str | None
    founded_on: date
    authorized: dict[str, int]
    contributions: list[ContributionOut]
    plans: list[PlanOut]
    kpis: list[KpiOut]
    distributions: list[DistributionOut]
    change_of_control_on: date | None
    version: int

    @classmethod
    def of(cls, s: SpinOff) -> SpinOffOut:
        return cls(
            spin_off_id=s.id, name=s.name, asset_ids=s.asset_ids, founded_via=s.founded_via,
            license_id=s.license_id or None, founded_on=s.founded_on, authorized=s.authorized,
            contributions=[ContributionOut.of(c) for c in s.contributions.values()],
            plans=[PlanOut(plan_id=p.plan_id, name=p.name, share_class=p.share_class, pool_size=p.pool_size)
                   for p in s.plans.values()],
            kpis=[KpiOut.of(k) for k in s.kpis], distributions=[DistributionOut.of(d) for d in s.distributions],
            change_of_control_on=s.change_of_control_on, version=s.version,
        )  # fmt: skip


class HoldingOut(BaseModel):
    holder: HolderOut
    share_class: str
    quantity: int


class DilutedOut(BaseModel):
    holder: HolderOut | None = Field(description="null: the option pool not yet granted")
    shares: int
    options: int
    total: int
    basis_points: int = Field(description="of the fully diluted total, rounded down")


class CapTableOut(BaseModel):
    spin_off_id: uuid.UUID
    as_of: date
    holdings: list[HoldingOut]
    issued: dict[str, int]
    fully_diluted: list[DilutedOut]
    fully_diluted_total: int
    contributions: list[ContributionOut] = Field(
        description="IP contributed as capital by then, with the researchers' reward and the rule it follows"
    )

    @classmethod
    def of(cls, s: SpinOff, as_of: date) -> CapTableOut:
        held = s.holdings(as_of)
        issued: dict[str, int] = {}
        for (_, share_class), q in held.items():
            issued[share_class] = issued.get(share_class, 0) + q
        lines = s.fully_diluted(as_of)
        total = sum(line.total for line in lines)
        return cls(
            spin_off_id=s.id, as_of=as_of, issued=issued, fully_diluted_total=total,
            holdings=[HoldingOut(holder=HolderOut.of(h), share_class=c, quantity=q)
                      for (h, c), q in sorted(held.items())],
            fully_diluted=[_diluted(line, total) for line in lines],
            contributions=[ContributionOut.of(c) for c in s.contributions.values() if c.contributed_on <= as_of],
        )  # fmt: skip


def _diluted(line: DilutedLine, total: int) -> DilutedOut:
    return DilutedOut(
        holder=HolderOut.of(line.holder) if line.holder else None, shares=line.shares, options=line.options,
        total=line.total, basis_points=line.total * 10_000 // total if total else 0,
    )  # fmt: skip


# ---- incentive plans and options -------------------------------------------------------


class CreatePlan(Body):
    name: str = Field(min_length=1)
    share_class: str
    pool_size: int = Field(gt=0)
    effective_date: date | None = None


class VestingIn(Body):
    start: date
    total_months: int = Field(48, gt=0)
    cliff_months: int = Field(12, ge=0)
    frequency_months: int = Field(1, gt=0)
    milestones: dict[str, int] = Field(default_factory=dict, description="milestone name -> options vesting on it")
    acceleration: Acceleration = "none"

    def terms(self) -> VestingTerms:
        return VestingTerms(self.start, self.total_months, self.cliff_months, self.frequency_months,
                            dict(self.milestones), self.acceleration)  # fmt: skip


class WindowIn(Body):
    length: int = Field(ge=0, description="0: exercisable until the options expire")
    unit: WindowUnit

    def window(self) -> ExerciseWindow:
        return ExerciseWindow(self.length, self.unit)


class WindowOut(BaseModel):
    length: int
    unit: WindowUnit | Literal[""] = Field(description="empty for grants recorded before windows existed")


class GrantOptions(Body):
    plan_id: str
    researcher_id: uuid.UUID
    quantity: int = Field(gt=0)
    vesting: VestingIn
    expires_on: date
    exercise_price: MoneyIn = Field(description="per option, in minor units of its currency")
    post_departure_window: WindowIn = Field(
        description="how long vested options stay exercisable after the grantee leaves; then they lapse"
    )
    effective_date: date | None = None


class VestingMilestoneIn(Body):
    milestone: str = Field(min_length=1)
    effective_date: date | None = None


class DepartureIn(Body):
    without_cause: bool
    effective_date: date | None = None


class ExerciseIn(Body):
    quantity: int = Field(gt=0)
    effective_date: date | None = None


class Dated(Body):
    effective_date: date | None = None


class VestingStep(BaseModel):
    date: date
    vested: int


class GrantOut(BaseModel):
    grant_id: str
    plan_id: str
    researcher_id: str
    quantity: int
    granted_on: date
    expires_on: date
    exercise_price: MoneyOut = Field(description="per option")
    post_departure_window: WindowOut
    lapses_on: date = Field(description="the first day nothing is exercisable: expiry, or the window's end")
    vesting: VestingIn
    as_of: date
    vested: int
    exercisable: int
    exercised: int
    forfeited: int
    expired: int
    outstanding: int = Field(description="as of `as_of`: granted, not exercised, forfeited or lapsed")
    milestones_achieved: dict[str, date]
    accelerated_on: date | None
    departed_on: date | None
    time_schedule: list[VestingStep] = Field(description="cumulative options vested by time on each vesting date")

    @classmethod
    def of(cls, g: OptionGrant, as_of: date) -> GrantOut:
        t = g.terms
        return cls(
            grant_id=g.grant_id, plan_id=g.plan_id, researcher_id=g.researcher_id, quantity=g.quantity,
            granted_on=g.granted_on, expires_on=g.expires_on, exercise_price=MoneyOut.of(g.exercise_price),
            post_departure_window=WindowOut(length=g.window.length, unit=g.window.unit), lapses_on=g.lapses_on,
            vesting=VestingIn(start=t.start, total_months=t.total_months, cliff_months=t.cliff_months,
                              frequency_months=t.frequency_months, milestones=dict(t.milestones),
                              acceleration=t.acceleration),
            as_of=as_of, vested=g.vested(as_of), exercisable=g.exercisable(as_of), exercised=g.exercised,
            forfeited=g.forfeited, expired=g.expired, outstanding=g.outstanding_as_of(as_of),
            milestones_achieved=dict(g.achieved), accelerated_on=g.accelerated_on, departed_on=g.departed_on,
            time_schedule=[VestingStep(date=d, vested=q) for d, q in time_schedule(g.quantity, t)],
        )  # fmt: skip


# ---- seed projects -------------------------------------------------------------------


class CommitmentIn(Body):
    funder_kind: FunderKind
    funder_id: str = Field(min_length=1)
    amount: MoneyIn

    def commitment(self) -> Commitment:
        return Commitment(self.funder_kind, self.funder_id, self.amount.money())


class MilestoneIn(Body):
    description: str = Field(min_length=1)
    due_date: date
    tranche: MoneyIn

    def plan(self) -> MilestonePlan:
        return MilestonePlan(self.description, self.due_date, self.tranche.money())


class OpenSeedProject(Body):
    title: str = Field(min_length=1, max_length=200)
    spin_off_id: uuid.UUID | None = None
    team: str = Field("", description="the team, before it incorporates as a spin-off")
    commitments: list[CommitmentIn] = Field(min_length=1)
    milestones: list[MilestoneIn] = Field(min_length=1)
    effective_date: date | None = None


class EvidenceIn(Body):
    evidence: list[str] = Field(min_length=1, description="documents or links")
    effective_date: date | None = None


class RejectionIn(Body):
    reason: str = Field(min_length=1)
    effective_date: date | None = None


class CommitmentOut(BaseModel):
    funder_kind: FunderKind
    funder_id: str
    amount: MoneyOut


class MilestoneOut(BaseModel):
    milestone_id: str
    description: str
    due_date: date
    tranche: MoneyOut
    status: MilestoneStatus
    evidence: list[str]
    decided_on: date | None
    rejection_reason: str
    released_on: date | None

    @classmethod
    def of(cls, m: Milestone) -> MilestoneOut:
        return cls(
            milestone_id=m.milestone_id, description=m.description, due_date=m.due_date,
            tranche=MoneyOut.of(m.tranche), status=m.status, evidence=m.evidence, decided_on=m.decided_on,
            rejection_reason=m.rejection_reason, released_on=m.released_on,
        )  # fmt: skip


class SeedProjectOut(BaseModel):
    seed_project_id: uuid.UUID
    title: str
    spin_off_id: str | None
    team: str
    opened_on: date
    commitments: list[CommitmentOut]
    committed: MoneyOut
    released: MoneyOut
    milestones: list[MilestoneOut] = Field(description="the tranche schedule, by due date")
    version: int

    @classmethod
    def of(cls, p: SeedProject) -> SeedProjectOut:
        return cls(
            seed_project_id=p.id, title=p.title, spin_off_id=p.spin_off_id or None, team=p.team,
            opened_on=p.opened_on,
            commitments=[CommitmentOut(funder_kind=c.funder_kind, funder_id=c.funder_id, amount=MoneyOut.of(c.amount))
                         for c in p.commitments],
            committed=MoneyOut.of(p.committed), released=MoneyOut.of(p.released),
            milestones=[MilestoneOut.of(m) for m in p.milestones.values()], version=p.version,
        )  # fmt: skip


class BoardRowOut(BaseModel):
    seed_project_id: uuid.UUID
    title: str
    spin_off_id: str | None
    due: list[MilestoneOut]
    overdue: list[MilestoneOut]
    achieved: list[MilestoneOut]
    committed: MoneyOut
    released: MoneyOut

    @classmethod
    def of(cls, row: BoardRow) -> BoardRowOut:
        p = row.project
        return cls(
            seed_project_id=p.id, title=p.title, spin_off_id=p.spin_off_id or None,
            due=[MilestoneOut.of(m) for m in row.due], overdue=[MilestoneOut.of(m) for m in row.overdue],
            achieved=[MilestoneOut.of(m) for m in row.achieved], committed=MoneyOut.of(p.committed),
            released=MoneyOut.of(p.released),
        )  # fmt: skip
