"""The ip-registry HTTP API: thin routes over `IpRegistryApplication`.

eventsourcing is synchronous, so routes are plain `def` (FastAPI runs them in its
thread pool). Writes to an asset honour If-Match; every POST honours Idempotency-Key.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from fastapi.responses import JSONResponse

from ip_registry.application import IpRegistryApplication
from ip_registry.domain.identifiers import check_identifier
from ip_registry.entrypoints import schemas as s
from ipshare.eventstore import CommandContext
from ipshare.idempotency import check_version, etag, expected_version
from ipshare.runtime import Runtime, http_api
from ipshare.schemas import CsvText, IsoDate
from ipshare.web import CommandContextDep
from ipshare_kernel.errors import DomainError


def _application(request: Request) -> IpRegistryApplication:
    app: IpRegistryApplication = request.app.state.application()
    return app


App = Annotated[IpRegistryApplication, Depends(_application)]
members = APIRouter(prefix="/members", tags=["members"])
researchers = APIRouter(prefix="/researchers", tags=["researchers"])
assets = APIRouter(prefix="/assets", tags=["assets"])
identifiers = APIRouter(prefix="/identifiers", tags=["identifiers"])


def _created(response: Response, location: str, aggregate_id: uuid.UUID, version: int) -> s.Created:
    response.headers["Location"] = location
    response.headers["ETag"] = etag(version)
    return s.Created(id=aggregate_id, version=version)


def _tagged(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


# ---- members and researchers ---------------------------------------------------


@members.post("", status_code=status.HTTP_201_CREATED)
def admit_member(body: s.AdmitMember, app: App, ctx: CommandContextDep, response: Response) -> s.Created:
    member_id = app.admit_member(ctx, **body.model_dump())
    return _created(response, f"/members/{member_id}", member_id, 1)


@members.get("/{member_id}")
def get_member(member_id: uuid.UUID, app: App, ctx: CommandContextDep, response: Response) -> s.MemberOut:
    member = app.get_member(ctx, member_id)
    _tagged(response, member.version)
    return s.MemberOut.of(member)


@members.get("/{member_id}/portfolio")
def member_portfolio(
    member_id: uuid.UUID, app: App, ctx: CommandContextDep, as_of: Annotated[IsoDate | None, Query()] = None
) -> s.PortfolioOut:
    """Disclosures, filings, grants and active assets by year and kind, up to `as_of` (default today),
    over the assets the member owned or co-owned on that day. A member reads its own; finance,
    auditors and admins read any member's."""
    day = as_of or app.clock.today()
    return s.PortfolioOut.of(member_id, day, app.member_portfolio(ctx, member_id, day))


@members.post("/{member_id}/suspension")
def suspend_member(member_id: uuid.UUID, body: s.MemberChange, app: App, ctx: CommandContextDep) -> s.MemberOut:
    app.suspend_member(ctx, member_id, body.reason, body.effective_date)
    return s.MemberOut.of(app.get_member(ctx, member_id))


@members.post("/{member_id}/reinstatement")
def reinstate_member(member_id: uuid.UUID, body: s.MemberChange, app: App, ctx: CommandContextDep) -> s.MemberOut:
    app.reinstate_member(ctx, member_id, body.reason, body.effective_date)
    return s.MemberOut.of(app.get_member(ctx, member_id))


@researchers.post("", status_code=status.HTTP_201_CREATED)
def register_researcher(body: s.RegisterResearcher, app: App, ctx: CommandContextDep, response: Response) -> s.Created:
    researcher_id = app.register_researcher(ctx, **body.model_dump())
    return _created(response, f"/researchers/{researcher_id}", researcher_id, 1)


@researchers.get("/{researcher_id}")
def get_researcher(researcher_id: uuid.UUID, app: App, ctx: CommandContextDep) -> s.ResearcherOut:
    return s.ResearcherOut.of(app.get_researcher(ctx, researcher_id))


@researchers.post("/{researcher_id}/affiliations")
def change_affiliation(
    researcher_id: uuid.UUID, body: s.Affiliation, app: App, ctx: CommandContextDep
) -> s.ResearcherOut:
    """Recorded by the member the researcher leaves (its consent), or an admin."""
    # The answer is the researcher as moved: the member it left may no longer read it.
    return s.ResearcherOut.of(app.change_affiliation(ctx, researcher_id, body.member_id, body.effective_date))


# ---- assets ----------------------------------------------------------------------


@assets.post("", status_code=status.HTTP_201_CREATED)
def register_asset(body: s.RegisterAsset, app: App, ctx: CommandContextDep, response: Response) -> s.Created:
    asset_id = app.register_asset(ctx, body.registration())
    return _created(response, f"/assets/{asset_id}", asset_id, app.get_asset(ctx, asset_id).version)


@assets.get("/{asset_id}")
def get_asset(asset_id: uuid.UUID, app: App, ctx: CommandContextDep, response: Response) -> s.AssetOut:
    asset = app.get_asset(ctx, asset_id)
    _tagged(response, asset.version)
    return s.AssetOut.of(asset)


@assets.get("")
def list_assets(
    query: Annotated[s.AssetQuery, Query()], app: App, ctx: CommandContextDep, request: Request, response: Response
) -> s.AssetPage:
    """Assets the caller may read, in registration order; the next page is at `next_cursor` (and the Link)."""
    page = app.list_assets(ctx, query.asset_filter(), cursor=query.cursor, limit=query.limit)
    if page.next_cursor is not None:
        response.headers["Link"] = f'<{request.url.include_query_params(cursor=page.next_cursor)}>; rel="next"'
    return s.AssetPage(items=[s.AssetOut.of(a) for a in page.items], next_cursor=page.next_cursor)


@assets.get("/{asset_id}/ownership")
def ownership_as_of(
    asset_id: uuid.UUID, app: App, ctx: CommandContextDep, as_of: Annotated[IsoDate, Query()]
) -> s.OwnershipOut:
    owners = app.ownership_as_of(ctx, asset_id, as_of)
    return s.OwnershipOut(asset_id=asset_id, as_of=as_of, owners=s.owner_list(owners))


@assets.get("/{asset_id}/ownership/history")
def ownership_history(asset_id: uuid.UUID, app: App, ctx: CommandContextDep) -> list[s.OwnershipPeriodOut]:
    return [s.OwnershipPeriodOut.of(p) for p in app.ownership_history(ctx, asset_id)]


def _if_match(request: Request, app: App, ctx: CommandContextDep, asset_id: uuid.UUID) -> None:
    """412 when If-Match names another version than the asset's current one."""
    check_version(app.get_asset(ctx, asset_id).version, expected_version(request))


IfMatch = [Depends(_if_match)]


def _answer(app: IpRegistryApplication, ctx: CommandContext, asset_id: uuid.UUID, response: Response) -> s.AssetOut:
    asset = app.get_asset(ctx, asset_id)
    _tagged(response, asset.version)
    return s.AssetOut.of(asset)


@assets.post("/{asset_id}/ownership/confirmations", dependencies=IfMatch)
def confirm_co_ownership(
    asset_id: uuid.UUID, body: s.CoOwnerAnswer, app: App, ctx: CommandContextDep, response: Response
) -> s.AssetOut:
    app.confirm_co_ownership(ctx, asset_id, body.member_id, body.effective_date)
    return _answer(app, ctx, asset_id, response)


@assets.post("/{asset_id}/ownership/declines", dependencies=IfMatch)
def decline_co_ownership(
    asset_id: uuid.UUID, body: s.CoOwnerAnswer, app: App, ctx: CommandContextDep, response: Response
) -> s.AssetOut:
    app.decline_co_ownership(ctx, asset_id, body.member_id, body.reason, body.effective_date)
    return _answer(app, ctx, asset_id, response)


@assets.post("/{asset_id}/ownership/proposals", dependencies=IfMatch)
def propose_ownership(
    asset_id: uuid.UUID, body: s.ProposeOwnership, app: App, ctx: CommandContextDep, response: Response
) -> s.AssetOut:
    app.propose_ownership(ctx, asset_id, s.shares_of(body.owners), body.ownership_effective_date)
    return _answer(app, ctx, asset_id, response)


@assets.post("/{asset_id}/transfers", dependencies=IfMatch)
def transfer_shares(
    asset_id: uuid.UUID, body: s.TransferShares, app: App, ctx: CommandContextDep, response: Response
) -> s.AssetOut:
    app.transfer_shares(ctx, asset_id, **body.model_dump())
    return _answer(app, ctx, asset_id, response)


@assets.post("/{asset_id}/filing", dependencies=IfMatch)
def file_application(
    asset_id: uuid.UUID, body: s.FileApplication, app: App, ctx: CommandContextDep, response: Response
) -> s.AssetOut:
    app.file_application(ctx, asset_id, body.application_number, body.filing_date)
    return _answer(app, ctx, asset_id, response)


@assets.post("/{asset_id}/publication", dependencies=IfMatch)
def publish(asset_id: uuid.UUID, body: s.Publish, app: App, ctx: CommandContextDep, response: Response) -> s.AssetOut:
    app.publish(ctx, asset_id, body.publication_number, body.publication_date)
    return _answer(app, ctx, asset_id, response)


@assets.post("/{asset_id}/grant", dependencies=IfMatch)
def grant(asset_id: uuid.UUID, body: s.Grant, app: App, ctx: CommandContextDep, response: Response) -> s.AssetOut:
    app.grant(ctx, asset_id, body.grant_number, body.grant_date, body.expiry_date)
    return _answer(app, ctx, asset_id, response)


@assets.post("/{asset_id}/end", dependencies=IfMatch)
def end_asset(
    asset_id: uuid.UUID, body: s.EndAsset, app: App, ctx: CommandContextDep, response: Response
) -> s.AssetOut:
    app.end_asset(ctx, asset_id, body.status, body.effective_date, body.reason)
    return _answer(app, ctx, asset_id, response)


@assets.post("/{asset_id}/strategic-reserve", dependencies=IfMatch)
def tag_strategic_reserve(
    asset_id: uuid.UUID, body: s.StrategicTag, app: App, ctx: CommandContextDep, response: Response
) -> s.AssetOut:
    app.tag_strategic_reserve(ctx, asset_id, body.strategic_reserve, body.effective_date)
    return _answer(app, ctx, asset_id, response)


@assets.post("/{asset_id}/inventor-corrections", dependencies=IfMatch)
def correct_inventors(
    asset_id: uuid.UUID, body: s.CorrectInventors, app: App, ctx: CommandContextDep, response: Response
) -> s.AssetOut:
    claims = [i.claim() for i in body.inventors]
    app.correct_inventors(ctx, asset_id, claims, body.reason, body.effective_date)
    return _answer(app, ctx, asset_id, response)


@assets.post("/{asset_id}/costs", status_code=status.HTTP_201_CREATED, dependencies=IfMatch)
def record_cost(
    asset_id: uuid.UUID, body: s.RecordCost, app: App, ctx: CommandContextDep, response: Response
) -> s.AssetOut:
    amount = body.amount.money()
    app.record_cost(
        ctx, asset_id, kind=body.kind, amount=amount, paid_by=body.paid_by,
        effective_date=body.effective_date, note=body.note,
    )  # fmt: skip
    return _answer(app, ctx, asset_id, response)


@assets.post("/imports", status_code=status.HTTP_201_CREATED, response_model=s.ImportOut)
def import_portfolio(
    app: App, ctx: CommandContextDep, response: Response, csv_text: CsvText
) -> s.ImportOut | JSONResponse:
    """A portfolio CSV, all or nothing: any row error is a 422 listing every bad row, and a valid file
    is saved in one transaction. The same file sent again is not imported twice: it gets the first
    import's answer, marked `Idempotent-Replayed: true`."""
    report = app.import_portfolio_csv(ctx, csv_text)
    if report.errors:
        problems = [{"line": e.line, "message": e.message, "details": e.details} for e in report.errors]
        body = {"error": {"code": "invalid_rows", "message": f"{len(problems)} rows are invalid", "details": {
            "rows": problems}}}  # fmt: skip
        return JSONResponse(status_code=422, content=body)
    if report.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    assert report.import_id is not None
    return s.ImportOut(imported=report.imported, asset_ids=report.asset_ids, import_id=report.import_id)


# ---- identifier checks --------------------------------------------------------------


@identifiers.post("/checks")
def check_identifiers(body: s.IdentifierChecksIn, ctx: CommandContextDep) -> s.IdentifierChecksOut:
    """Check credit codes and application numbers as registering would, and record nothing: a
    member fixes a spreadsheet before importing it. Each item answers valid (normalized) or why not."""
    results = [_checked(index, item) for index, item in enumerate(body.items)]
    valid = sum(r.valid for r in results)
    return s.IdentifierChecksOut(valid=valid, invalid=len(results) - valid, items=results)


def _checked(index: int, item: s.IdentifierIn) -> s.IdentifierCheckOut:
    try:
        normalized = check_identifier(
            credit_code=item.credit_code, application_number=item.application_number,
            jurisdiction=item.jurisdiction, kind=item.kind or "",
        )  # fmt: skip
    except DomainError as exc:
        return s.IdentifierCheckOut(index=index, valid=False, normalized=None, message=exc.message, details=exc.details)
    return s.IdentifierCheckOut(index=index, valid=True, normalized=normalized, message=None, details={})


ROUTERS = (members, researchers, assets, identifiers)


def create_http(runtime: Runtime[IpRegistryApplication, Any]) -> FastAPI:
    return http_api(runtime, *ROUTERS)
