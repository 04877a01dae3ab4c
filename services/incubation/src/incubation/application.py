"""The incubation use cases: one method each, called by the HTTP routes.

Every method takes the command context first, authorizes with `permissions`,
and saves what it changes with one `record` call (one transaction). Business dates
default to the day the command is handled.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from incubation import ocf
from incubation import permissions as may
from incubation.domain import references as refs
from incubation.domain.cap_table import DilutedLine, Holder
from incubation.domain.references import Directory, KnownMember, KnownResearcher
from incubation.domain.seed_project import Commitment, Milestone, MilestonePlan, MilestoneStatus, SeedProject
from incubation.domain.spin_off import Contribution, ExerciseWindow, OptionGrant, SpinOff, holder_of
from incubation.domain.vesting import VestingTerms
from ipshare.eventstore import CommandContext, ServiceApplication
from ipshare.permissions import Permission, require
from ipshare_kernel.clock import SYSTEM_CLOCK, Clock
from ipshare_kernel.errors import DomainError, Forbidden
from ipshare_kernel.money import Money


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One seed project on the incubator's board, on a given day."""

    project: SeedProject
    due: list[Milestone]  # not yet approved, due on or after the day
    overdue: list[Milestone]
    achieved: list[Milestone]


APPROVED = MilestoneStatus.APPROVED


class IncubationApplication(ServiceApplication):
    """The use cases. `directory` says what the IP registry and commercialization published
    (members, researchers, assets and their owners, licenses); every id a command names
    from those services is checked against it."""

    source: ClassVar[str] = "incubation"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        directory: Directory | None = None,
        reads: Directory | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`directory` checks the ids of a write (it may wait for one not known yet); `reads`
        (default: the same) names stakeholders in answers and never waits."""
        super().__init__(env, clock)
        self._directory = directory
        self._reads = reads or directory

    @property
    def directory(self) -> Directory:
        if self._directory is None:
            raise RuntimeError("incubation checks ids against a directory of the other services; none was given")
        return self._directory

    def close(self) -> None:
        """Close the event store, and the directory's connections where it holds any."""
        super().close()
        for directory in {id(d): d for d in (self._directory, self._reads)}.values():
            close = getattr(directory, "close", None)
            if callable(close):
                close()

    # ---- spin-offs --------------------------------------------------------------------

    def found_spin_off(
        self,
        ctx: CommandContext,
        *,
        name: str,
        asset_ids: list[uuid.UUID],
        founded_via: str,
        share_classes: dict[str, int],
        license_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> uuid.UUID:
        require(ctx.principal, Permission.RUN_INCUBATION, "found spin-offs")
        refs.require_assets(self.directory, [str(a) for a in asset_ids], "asset_ids")
        if license_id is not None:
            refs.require_license_covering(self.directory, str(license_id), [str(a) for a in asset_ids])
        spin_off = SpinOff.found(
            name=name, asset_ids=asset_ids, founded_via=founded_via, share_classes=share_classes,
            license_id=license_id, effective_date=effective_date or self.clock.today(),
        )  # fmt: skip
        self.record(ctx, spin_off)
        return spin_off.id

    def get_spin_off(self, ctx: CommandContext, spin_off_id: uuid.UUID) -> SpinOff:
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        may.check_may_read(ctx.principal, spin_off.members_involved())
        return spin_off

    def list_spin_offs(self, ctx: CommandContext) -> list[SpinOff]:
        """The portfolio: every spin-off the caller may read, in founding order."""
        found = [self.find(SpinOff, i, "spin_off") for i in self.created_ids(SpinOff.Founded)]
        if may.reads_all(ctx.principal):
            return found
        return [s for s in found if str(ctx.principal.member_id) in s.members_involved()]

    def move_shares(
        self,
        ctx: CommandContext,
        spin_off_id: uuid.UUID,
        *,
        kind: str,
        share_class: str,
        quantity: int,
        holder: Holder,
        to: Holder | None = None,
        effective_date: date | None = None,
        note: str = "",
    ) -> SpinOff:
        """An issuance, transfer (to `to`), repurchase or cancellation on the cap table."""
        require(ctx.principal, Permission.RUN_INCUBATION, "change cap tables")
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        day = effective_date or self.clock.today()
        holder = holder_of(*holder)
        self._require_holder(holder if kind == "issuance" else to, "holder" if kind == "issuance" else "to")
        match kind:
            case "issuance":
                spin_off.issue(holder, share_class, quantity, day, note)
            case "transfer":
                if to is None:
                    raise DomainError("a transfer names the holder receiving the shares", field="to")
                spin_off.transfer(holder, holder_of(*to), share_class, quantity, day)
            case "repurchase":
                spin_off.repurchase(holder, share_class, quantity, day)
            case "cancellation":
                spin_off.cancel(holder, share_class, quantity, day)
            case _:
                raise DomainError("a movement is an issuance, transfer, repurchase or cancellation", kind=kind)
        self.record(ctx, spin_off)
        return spin_off

    def contribute_ip(
        self,
        ctx: CommandContext,
        spin_off_id: uuid.UUID,
        *,
        member_id: uuid.UUID,
        asset_ids: list[uuid.UUID],
        valuation: Money,
        share_class: str,
        shares: int,
        rewards: dict[uuid.UUID, int],
        own_rule_document: str = "",
        effective_date: date | None = None,
    ) -> Contribution:
        """IP as capital: the member's shares, and the researchers' reward out of them (Art. 45(2)).

        The member, its assets (owned by it on the day) and the rewarded researchers must be
        known from the IP registry's topic."""
        require(ctx.principal, Permission.RUN_INCUBATION, "record IP contributions")
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        member = refs.require_member(self.directory, str(member_id), "member_id")
        assets = refs.require_assets(self.directory, [str(a) for a in asset_ids], "asset_ids")
        self._require_researchers(rewards)
        contribution = spin_off.contribute_ip(
            member=member, assets=assets, valuation=valuation, share_class=share_class, shares=shares,
            rewards={str(r): q for r, q in rewards.items()}, own_rule_document=own_rule_document,
            day=effective_date or self.clock.today(),
        )  # fmt: skip
        self.record(ctx, spin_off)
        return contribution

    def reward_researchers(
        self,
        ctx: CommandContext,
        spin_off_id: uuid.UUID,
        contribution_id: str,
        rewards: dict[uuid.UUID, int],
        effective_date: date | None = None,
    ) -> Contribution:
        require(ctx.principal, Permission.RUN_INCUBATION, "reward researchers")
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        self._require_researchers(rewards)
        spin_off.reward_researchers(
            contribution_id, {str(r): q for r, q in rewards.items()}, effective_date or self.clock.today()
        )
        self.record(ctx, spin_off)
        return spin_off.contributions[contribution_id]

    def report_kpis(
        self,
        ctx: CommandContext,
        spin_off_id: uuid.UUID,
        *,
        period: str,
        revenue: Money,
        headcount: int,
        follow_on_funding: Money,
        patents_filed: int,
        effective_date: date | None = None,
    ) -> SpinOff:
        require(ctx.principal, Permission.RUN_INCUBATION, "record KPI reports")
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        day = effective_date or self.clock.today()
        spin_off.report_kpis(period, revenue, headcount, follow_on_funding, patents_filed, day)
        self.record(ctx, spin_off)
        return spin_off

    def distribute_proceeds(
        self,
        ctx: CommandContext,
        spin_off_id: uuid.UUID,
        *,
        kind: str,
        record_date: date,
        amount: Money,
        effective_date: date | None = None,
    ) -> dict[str, Any]:
        """A dividend or exit paid out by the cap table on the record date."""
        require(ctx.principal, Permission.PAY_OUT, "record proceeds")
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        spin_off.distribute(kind, record_date, amount, effective_date or self.clock.today())
        self.record(ctx, spin_off)
        return spin_off.distributions[-1]

    def ocf_package(self, ctx: CommandContext, spin_off_id: uuid.UUID, as_of: date | None = None) -> dict[str, Any]:
        """The cap table as an Open Cap Format package, stakeholders by their registered names,
        checked against the OCF schemas before it leaves."""
        spin_off = self.get_spin_off(ctx, spin_off_id)
        package = ocf.export(
            spin_off, as_of or self.clock.today(), self.clock.now(), names=self._registered_names(spin_off)
        )
        ocf.validate(package)
        return package

    def _registered_names(self, spin_off: SpinOff) -> dict[Holder, str]:
        """Members' and researchers' names as registered (an id not known keeps its id)."""
        names: dict[Holder, str] = {}
        if self._reads is None:
            return names
        for kind, ref in spin_off.stakeholders():
            found: KnownMember | KnownResearcher | None = None
            if kind == "member":
                found = self._reads.member(ref)
            elif kind == "researcher":
                found = self._reads.researcher(ref)
            if found is not None:
                names[(kind, ref)] = found.name
        return names

    def _require_holder(self, holder: Holder | None, field_name: str) -> None:
        """A member or researcher receiving shares is one the IP registry knows."""
        if holder is None:
            return
        kind, ref = holder
        if kind == "member":
            refs.require_member(self.directory, ref, field_name)
        elif kind == "researcher":
            refs.require_researcher(self.directory, ref, field_name)

    def _require_researchers(self, rewards: Mapping[uuid.UUID, int]) -> None:
        for researcher_id in rewards:
            refs.require_researcher(self.directory, str(researcher_id), "rewards")

    def fully_diluted(self, ctx: CommandContext, spin_off_id: uuid.UUID, as_of: date) -> list[DilutedLine]:
        return self.get_spin_off(ctx, spin_off_id).fully_diluted(as_of)

    # ---- incentive plans and options ------------------------------------------------------

    def create_plan(
        self,
        ctx: CommandContext,
        spin_off_id: uuid.UUID,
        *,
        name: str,
        share_class: str,
        pool_size: int,
        effective_date: date | None = None,
    ) -> str:
        require(ctx.principal, Permission.RUN_INCUBATION, "create incentive plans")
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        plan_id = spin_off.create_plan(name, share_class, pool_size, effective_date or self.clock.today())
        self.record(ctx, spin_off)
        return plan_id

    def grant_options(
        self,
        ctx: CommandContext,
        spin_off_id: uuid.UUID,
        *,
        plan_id: str,
        researcher_id: uuid.UUID,
        quantity: int,
        terms: VestingTerms,
        expires_on: date,
        exercise_price: Money,
        window: ExerciseWindow,
        effective_date: date | None = None,
    ) -> OptionGrant:
        """Options on a plan's pool at an exercise price, exercisable for `window` after a departure."""
        require(ctx.principal, Permission.RUN_INCUBATION, "grant options")
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        refs.require_researcher(self.directory, str(researcher_id), "researcher_id")
        grant_id = spin_off.grant_options(
            plan_id, str(researcher_id), quantity, terms, expires_on, effective_date or self.clock.today(),
            exercise_price=exercise_price, window=window,
        )  # fmt: skip
        self.record(ctx, spin_off)
        return spin_off.grant(grant_id)

    def grants(self, ctx: CommandContext, spin_off_id: uuid.UUID) -> list[OptionGrant]:
        """The option grants the caller may read: all of them, or a researcher's own."""
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        involved = spin_off.members_involved()
        readable = [g for g in spin_off.grants.values() if may.may_read_grant(ctx.principal, g.researcher_id, involved)]
        if not readable and not may.reads_all(ctx.principal):
            may.check_may_read(ctx.principal, involved)
        return readable

    def get_grant(self, ctx: CommandContext, spin_off_id: uuid.UUID, grant_id: str) -> OptionGrant:
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        grant = spin_off.grant(grant_id)
        if not may.may_read_grant(ctx.principal, grant.researcher_id, spin_off.members_involved()):
            raise Forbidden("a researcher reads only its own grants", grant_id=grant_id)
        return grant

    def achieve_vesting_milestone(
        self, ctx: CommandContext, spin_off_id: uuid.UUID, grant_id: str, milestone: str, effective_date: date | None
    ) -> OptionGrant:
        def achieve(spin_off: SpinOff, day: date) -> None:
            spin_off.achieve_vesting_milestone(grant_id, milestone, day)

        return self._on_grant(ctx, spin_off_id, grant_id, "record vesting milestones", achieve, effective_date)

    def record_departure(
        self,
        ctx: CommandContext,
        spin_off_id: uuid.UUID,
        grant_id: str,
        without_cause: bool,
        effective_date: date | None,
    ) -> OptionGrant:
        return self._on_grant(ctx, spin_off_id, grant_id, "record departures",
                              lambda s, day: s.depart(grant_id, without_cause, day), effective_date)  # fmt: skip

    def exercise_options(
        self, ctx: CommandContext, spin_off_id: uuid.UUID, grant_id: str, quantity: int, effective_date: date | None
    ) -> OptionGrant:
        return self._on_grant(ctx, spin_off_id, grant_id, "record exercises",
                              lambda s, day: s.exercise(grant_id, quantity, day), effective_date)  # fmt: skip

    def expire_options(
        self, ctx: CommandContext, spin_off_id: uuid.UUID, grant_id: str, effective_date: date | None
    ) -> OptionGrant:
        return self._on_grant(ctx, spin_off_id, grant_id, "expire options",
                              lambda s, day: s.expire(grant_id, day), effective_date)  # fmt: skip

    def record_change_of_control(
        self, ctx: CommandContext, spin_off_id: uuid.UUID, effective_date: date | None = None
    ) -> SpinOff:
        require(ctx.principal, Permission.RUN_INCUBATION, "record a change of control")
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        spin_off.change_control(effective_date or self.clock.today())
        self.record(ctx, spin_off)
        return spin_off

    def _on_grant(
        self,
        ctx: CommandContext,
        spin_off_id: uuid.UUID,
        grant_id: str,
        action: str,
        change: Callable[[SpinOff, date], object],
        effective_date: date | None,
    ) -> OptionGrant:
        require(ctx.principal, Permission.RUN_INCUBATION, action)
        spin_off = self.find(SpinOff, spin_off_id, "spin_off")
        spin_off.grant(grant_id)  # 404 before anything else
        change(spin_off, effective_date or self.clock.today())
        self.record(ctx, spin_off)
        return spin_off.grant(grant_id)

    # ---- seed projects ------------------------------------------------------------------

    def open_seed_project(
        self,
        ctx: CommandContext,
        *,
        title: str,
        commitments: list[Commitment],
        milestones: list[MilestonePlan],
        spin_off_id: uuid.UUID | None = None,
        team: str = "",
        effective_date: date | None = None,
    ) -> uuid.UUID:
        require(ctx.principal, Permission.RUN_INCUBATION, "open seed projects")
        if spin_off_id is not None:
            self.find(SpinOff, spin_off_id, "spin_off")
        for commitment in commitments:
            if commitment.funder_kind == "member":
                refs.require_member(self.directory, commitment.funder_id, "commitments")
        project = SeedProject.open(
            title=title, commitments=commitments, milestones=milestones, spin_off_id=spin_off_id, team=team,
            effective_date=effective_date or self.clock.today(),
        )  # fmt: skip
        self.record(ctx, project)
        return project.id

    def get_seed_project(self, ctx: CommandContext, project_id: uuid.UUID) -> SeedProject:
        project = self.find(SeedProject, project_id, "seed_project")
        may.check_may_read(ctx.principal, project.members_involved())
        return project

    def submit_evidence(
        self,
        ctx: CommandContext,
        project_id: uuid.UUID,
        milestone_id: str,
        evidence: list[str],
        effective_date: date | None = None,
    ) -> SeedProject:
        project = self.find(SeedProject, project_id, "seed_project")
        may.check_may_submit_evidence(ctx.principal, project.members_involved())
        project.submit_evidence(milestone_id, evidence, effective_date or self.clock.today())
        self.record(ctx, project)
        return project

    def decide_milestone(
        self,
        ctx: CommandContext,
        project_id: uuid.UUID,
        milestone_id: str,
        *,
        approve: bool,
        reason: str = "",
        effective_date: date | None = None,
    ) -> SeedProject:
        require(ctx.principal, Permission.RUN_INCUBATION, "approve or reject milestones")
        project = self.find(SeedProject, project_id, "seed_project")
        day = effective_date or self.clock.today()
        if approve:
            project.approve(milestone_id, day)
        else:
            project.reject(milestone_id, reason, day)
        self.record(ctx, project)
        return project

    def release_tranche(
        self, ctx: CommandContext, project_id: uuid.UUID, milestone_id: str, effective_date: date | None = None
    ) -> SeedProject:
        require(ctx.principal, Permission.PAY_OUT, "release tranches")
        project = self.find(SeedProject, project_id, "seed_project")
        project.release_tranche(milestone_id, effective_date or self.clock.today())
        self.record(ctx, project)
        return project

    def board(self, ctx: CommandContext, today: date | None = None) -> list[BoardRow]:
        """Per project the caller may read: milestones due, overdue and achieved."""
        day = today or self.clock.today()
        rows: list[BoardRow] = []
        for project_id in self.created_ids(SeedProject.Opened):
            project = self.find(SeedProject, project_id, "seed_project")
            if not may.reads_all(ctx.principal) and str(ctx.principal.member_id) not in project.members_involved():
                continue
            milestones = list(project.milestones.values())
            rows.append(
                BoardRow(
                    project=project,
                    due=[m for m in milestones if m.status is not APPROVED and not m.overdue(day)],
                    overdue=[m for m in milestones if m.overdue(day)],
                    achieved=[m for m in milestones if m.status is APPROVED],
                )
            )
        return rows
