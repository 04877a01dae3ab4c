"""The incubation HTTP API: thin routes over `IncubationApplication`.

Routes are plain `def` (eventsourcing is synchronous; FastAPI runs them in its thread
pool). Every POST honours Idempotency-Key; writes to a spin-off or a seed project
honour If-Match against the ETag of their last read.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status

from incubation.application import IncubationApplication
from incubation.domain.seed_project import SeedProject
from incubation.domain.spin_off import OptionGrant, SpinOff
from incubation.entrypoints import schemas as s
from ipshare.idempotency import check_version, etag, expected_version
from ipshare.runtime import Runtime, http_api
from ipshare.schemas import IsoDate
from ipshare.web import CommandContextDep


def _application(request: Request) -> IncubationApplication:
    app: IncubationApplication = request.app.state.application()
    return app


App = Annotated[IncubationApplication, Depends(_application)]
AsOf = Annotated[IsoDate | None, Query(description="default: today")]
spin_offs = APIRouter(prefix="/spin-offs", tags=["spin-offs"])
seed_projects = APIRouter(prefix="/seed-projects", tags=["seed projects"])
board = APIRouter(prefix="/board", tags=["board"])


def _spin_off_matches(request: Request, app: App, ctx: CommandContextDep, spin_off_id: uuid.UUID) -> None:
    check_version(app.get_spin_off(ctx, spin_off_id).version, expected_version(request))


def _project_matches(request: Request, app: App, ctx: CommandContextDep, project_id: uuid.UUID) -> None:
    check_version(app.get_seed_project(ctx, project_id).version, expected_version(request))


SpinOffIfMatch = [Depends(_spin_off_matches)]
ProjectIfMatch = [Depends(_project_matches)]


def _spin_off(response: Response, spin_off: SpinOff) -> s.SpinOffOut:
    response.headers["ETag"] = etag(spin_off.version)
    return s.SpinOffOut.of(spin_off)


def _project(response: Response, project: SeedProject) -> s.SeedProjectOut:
    response.headers["ETag"] = etag(project.version)
    return s.SeedProjectOut.of(project)


# ---- spin-offs and cap tables ----------------------------------------------------------


@spin_offs.post("", status_code=status.HTTP_201_CREATED)
def found_spin_off(body: s.FoundSpinOff, app: App, ctx: CommandContextDep, response: Response) -> s.SpinOffOut:
    spin_off_id = app.found_spin_off(ctx, **body.model_dump())
    response.headers["Location"] = f"/spin-offs/{spin_off_id}"
    return _spin_off(response, app.get_spin_off(ctx, spin_off_id))


@spin_offs.get("")
def portfolio(app: App, ctx: CommandContextDep) -> list[s.SpinOffOut]:
    """Every spin-off the caller may read, with its KPIs over time and its distributions."""
    return [s.SpinOffOut.of(spin_off) for spin_off in app.list_spin_offs(ctx)]


@spin_offs.get("/{spin_off_id}")
def get_spin_off(spin_off_id: uuid.UUID, app: App, ctx: CommandContextDep, response: Response) -> s.SpinOffOut:
    return _spin_off(response, app.get_spin_off(ctx, spin_off_id))


@spin_offs.get("/{spin_off_id}/cap-table")
def cap_table(spin_off_id: uuid.UUID, app: App, ctx: CommandContextDep, as_of: AsOf = None) -> s.CapTableOut:
    """Holdings and fully diluted ownership as of a date."""
    return s.CapTableOut.of(app.get_spin_off(ctx, spin_off_id), as_of or app.clock.today())


@spin_offs.get("/{spin_off_id}/ocf")
def ocf_package(spin_off_id: uuid.UUID, app: App, ctx: CommandContextDep, as_of: AsOf = None) -> dict[str, Any]:
    """The cap table as an Open Cap Format 1.2.0 package: the manifest and each OCF file, by file name."""
    return app.ocf_package(ctx, spin_off_id, as_of)


@spin_offs.post("/{spin_off_id}/share-movements", dependencies=SpinOffIfMatch)
def move_shares(
    spin_off_id: uuid.UUID, body: s.ShareMovement, app: App, ctx: CommandContextDep, response: Response
) -> s.CapTableOut:
    spin_off = app.move_shares(
        ctx, spin_off_id, kind=body.kind, share_class=body.share_class, quantity=body.quantity,
        holder=body.holder.holder(), to=body.to.holder() if body.to else None,
        effective_date=body.effective_date, note=body.note,
    )  # fmt: skip
    response.headers["ETag"] = etag(spin_off.version)
    return s.CapTableOut.of(spin_off, body.effective_date or app.clock.today())


@spin_offs.post("/{spin_off_id}/ip-contributions", status_code=status.HTTP_201_CREATED, dependencies=SpinOffIfMatch)
def contribute_ip(spin_off_id: uuid.UUID, body: s.ContributeIp, app: App, ctx: CommandContextDep) -> s.ContributionOut:
    """IP contributed as capital by a member that owned the assets that day; a researchers' reward under
    50% is a 422 unless the member's own rule (by its document) allows it, never for a state-established one."""
    contribution = app.contribute_ip(
        ctx, spin_off_id, member_id=body.member_id, asset_ids=body.asset_ids, valuation=body.valuation.money(),
        share_class=body.share_class, shares=body.shares, rewards=body.rewards,
        own_rule_document=body.own_rule_document, effective_date=body.effective_date,
    )  # fmt: skip
    return s.ContributionOut.of(contribution)


@spin_offs.post("/{spin_off_id}/ip-contributions/{contribution_id}/rewards", dependencies=SpinOffIfMatch)
def reward_researchers(
    spin_off_id: uuid.UUID, contribution_id: str, body: s.RewardResearchers, app: App, ctx: CommandContextDep
) -> s.ContributionOut:
    contribution = app.reward_researchers(ctx, spin_off_id, contribution_id, body.rewards, body.effective_date)
    return s.ContributionOut.of(contribution)


@spin_offs.post("/{spin_off_id}/kpi-reports", status_code=status.HTTP_201_CREATED)
def report_kpis(
    spin_off_id: uuid.UUID, body: s.KpiIn, app: App, ctx: CommandContextDep, response: Response
) -> s.SpinOffOut:
    spin_off = app.report_kpis(
        ctx, spin_off_id, period=body.period, revenue=body.revenue_money(), headcount=body.headcount,
        follow_on_funding=body.funding_money(), patents_filed=body.patents_filed, effective_date=body.effective_date,
    )  # fmt: skip
    return _spin_off(response, spin_off)


@spin_offs.post("/{spin_off_id}/distributions", status_code=status.HTTP_201_CREATED, dependencies=SpinOffIfMatch)
def distribute(spin_off_id: uuid.UUID, body: s.Distribute, app: App, ctx: CommandContextDep) -> s.DistributionOut:
    """Dividend or exit proceeds, split by the cap table on the record date; members' parts become revenue."""
    distribution = app.distribute_proceeds(
        ctx, spin_off_id, kind=body.kind, record_date=body.record_date, amount=body.amount.money(),
        effective_date=body.effective_date,
    )  # fmt: skip
    return s.DistributionOut.of(distribution)


@spin_offs.post("/{spin_off_id}/change-of-control", dependencies=SpinOffIfMatch)
def change_of_control(
    spin_off_id: uuid.UUID, body: s.Dated, app: App, ctx: CommandContextDep, response: Response
) -> s.SpinOffOut:
    return _spin_off(response, app.record_change_of_control(ctx, spin_off_id, body.effective_date))


# ---- incentive plans and options -------------------------------------------------------


@spin_offs.post("/{spin_off_id}/plans", status_code=status.HTTP_201_CREATED, dependencies=SpinOffIfMatch)
def create_plan(spin_off_id: uuid.UUID, body: s.CreatePlan, app: App, ctx: CommandContextDep) -> s.PlanOut:
    plan_id = app.create_plan(ctx, spin_off_id, **body.model_dump())
    return s.PlanOut(plan_id=plan_id, name=body.name, share_class=body.share_class, pool_size=body.pool_size)


@spin_offs.post("/{spin_off_id}/grants", status_code=status.HTTP_201_CREATED, dependencies=SpinOffIfMatch)
def grant_options(spin_off_id: uuid.UUID, body: s.GrantOptions, app: App, ctx: CommandContextDep) -> s.GrantOut:
    grant = app.grant_options(
        ctx, spin_off_id, plan_id=body.plan_id, researcher_id=body.researcher_id, quantity=body.quantity,
        terms=body.vesting.terms(), expires_on=body.expires_on, exercise_price=body.exercise_price.money(),
        window=body.post_departure_window.window(), effective_date=body.effective_date,
    )  # fmt: skip
    return s.GrantOut.of(grant, grant.granted_on)


@spin_offs.get("/{spin_off_id}/grants")
def list_grants(spin_off_id: uuid.UUID, app: App, ctx: CommandContextDep, as_of: AsOf = None) -> list[s.GrantOut]:
    """All grants for the reading roles; a researcher sees its own."""
    return [s.GrantOut.of(g, as_of or app.clock.today()) for g in app.grants(ctx, spin_off_id)]


@spin_offs.get("/{spin_off_id}/grants/{grant_id}")
def get_grant(
    spin_off_id: uuid.UUID, grant_id: str, app: App, ctx: CommandContextDep, as_of: AsOf = None
) -> s.GrantOut:
    return s.GrantOut.of(app.get_grant(ctx, spin_off_id, grant_id), as_of or app.clock.today())


def _grant_answer(
    grant: OptionGrant, body: s.Dated | s.ExerciseIn | s.DepartureIn | s.VestingMilestoneIn, today: date
) -> s.GrantOut:
    """The grant as of the change's effective date."""
    return s.GrantOut.of(grant, body.effective_date or today)


@spin_offs.post("/{spin_off_id}/grants/{grant_id}/vesting-milestones", dependencies=SpinOffIfMatch)
def achieve_vesting_milestone(
    spin_off_id: uuid.UUID, grant_id: str, body: s.VestingMilestoneIn, app: App, ctx: CommandContextDep
) -> s.GrantOut:
    grant = app.achieve_vesting_milestone(ctx, spin_off_id, grant_id, body.milestone, body.effective_date)
    return _grant_answer(grant, body, app.clock.today())


@spin_offs.post("/{spin_off_id}/grants/{grant_id}/departure", dependencies=SpinOffIfMatch)
def record_departure(
    spin_off_id: uuid.UUID, grant_id: str, body: s.DepartureIn, app: App, ctx: CommandContextDep
) -> s.GrantOut:
    grant = app.record_departure(ctx, spin_off_id, grant_id, body.without_cause, body.effective_date)
    return _grant_answer(grant, body, app.clock.today())


@spin_offs.post("/{spin_off_id}/grants/{grant_id}/exercises", dependencies=SpinOffIfMatch)
def exercise_options(
    spin_off_id: uuid.UUID, grant_id: str, body: s.ExerciseIn, app: App, ctx: CommandContextDep
) -> s.GrantOut:
    grant = app.exercise_options(ctx, spin_off_id, grant_id, body.quantity, body.effective_date)
    return _grant_answer(grant, body, app.clock.today())


@spin_offs.post("/{spin_off_id}/grants/{grant_id}/expiry", dependencies=SpinOffIfMatch)
def expire_options(
    spin_off_id: uuid.UUID, grant_id: str, body: s.Dated, app: App, ctx: CommandContextDep
) -> s.GrantOut:
    grant = app.expire_options(ctx, spin_off_id, grant_id, body.effective_date)
    return _grant_answer(grant, body, app.clock.today())


# ---- seed projects and the board --------------------------------------------------------


@seed_projects.post("", status_code=status.HTTP_201_CREATED)
def open_seed_project(
    body: s.OpenSeedProject, app: App, ctx: CommandContextDep, response: Response
) -> s.SeedProjectOut:
    project_id = app.open_seed_project(
        ctx, title=body.title, spin_off_id=body.spin_off_id, team=body.team,
        commitments=[c.commitment() for c in body.commitments], milestones=[m.plan() for m in body.milestones],
        effective_date=body.effective_date,
    )  # fmt: skip
    response.headers["Location"] = f"/seed-projects/{project_id}"
    return _project(response, app.get_seed_project(ctx, project_id))


@seed_projects.get("/{project_id}")
def get_seed_project(project_id: uuid.UUID, app: App, ctx: CommandContextDep, response: Response) -> s.SeedProjectOut:
    return _project(response, app.get_seed_project(ctx, project_id))


@seed_projects.post("/{project_id}/milestones/{milestone_id}/evidence", dependencies=ProjectIfMatch)
def submit_evidence(
    project_id: uuid.UUID, milestone_id: str, body: s.EvidenceIn, app: App, ctx: CommandContextDep, response: Response
) -> s.SeedProjectOut:
    project = app.submit_evidence(ctx, project_id, milestone_id, body.evidence, body.effective_date)
    return _project(response, project)


@seed_projects.post("/{project_id}/milestones/{milestone_id}/approval", dependencies=ProjectIfMatch)
def approve_milestone(
    project_id: uuid.UUID, milestone_id: str, body: s.Dated, app: App, ctx: CommandContextDep, response: Response
) -> s.SeedProjectOut:
    project = app.decide_milestone(ctx, project_id, milestone_id, approve=True, effective_date=body.effective_date)
    return _project(response, project)


@seed_projects.post("/{project_id}/milestones/{milestone_id}/rejection", dependencies=ProjectIfMatch)
def reject_milestone(
    project_id: uuid.UUID, milestone_id: str, body: s.RejectionIn, app: App, ctx: CommandContextDep, response: Response
) -> s.SeedProjectOut:
    project = app.decide_milestone(
        ctx, project_id, milestone_id, approve=False, reason=body.reason, effective_date=body.effective_date
    )
    return _project(response, project)


@seed_projects.post("/{project_id}/milestones/{milestone_id}/release", dependencies=ProjectIfMatch)
def release_tranche(
    project_id: uuid.UUID, milestone_id: str, body: s.Dated, app: App, ctx: CommandContextDep, response: Response
) -> s.SeedProjectOut:
    """Finance releases a milestone's tranche; 409 naming the milestone while it is not approved."""
    return _project(response, app.release_tranche(ctx, project_id, milestone_id, body.effective_date))


@board.get("")
def incubator_board(app: App, ctx: CommandContextDep, today: AsOf = None) -> list[s.BoardRowOut]:
    """Per seed project: milestones due, overdue and achieved, and the money committed and released."""
    return [s.BoardRowOut.of(row) for row in app.board(ctx, today)]


ROUTERS = (spin_offs, seed_projects, board)


def create_http(runtime: Runtime[IncubationApplication, Any]) -> FastAPI:
    return http_api(runtime, *ROUTERS)
