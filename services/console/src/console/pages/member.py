"""Members' IP officers: the portfolio, an asset's page, registering an asset, co-ownership
confirmations awaiting them, their statements and payouts; the admin's portfolio import."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Response

from console.api import ApiError, ServiceClient
from console.forms import FieldError, field_errors, percent_to_bps
from console.pages.names import names_of, payee_names
from console.web import Page, PageDep, corrected, form_values
from ipshare.permissions import Permission, may

router = APIRouter()

KINDS = ("invention_patent", "utility_model", "design", "software_copyright", "ic_layout_design", "know_how")
STATUSES = ("disclosed", "filed", "published", "granted", "lapsed", "abandoned", "expired", "invalidated")
ROWS = 3  # owner and inventor rows on the registration form
PAGE_SIZE = 20


def member_or_query(page: Page, owner: str) -> str:
    """A member sees its own portfolio; finance, admin and auditors may name a member or see all."""
    return page.user.member_id or owner


@router.get("/portfolio")
async def portfolio(page: PageDep, status: str = "", kind: str = "", jurisdiction: str = "", field: str = "",
                    owner: str = "", cursor: str = "", limit: int = PAGE_SIZE) -> Response:  # fmt: skip
    owner = member_or_query(page, owner)
    filters = {"status": status, "kind": kind, "jurisdiction": jurisdiction, "field": field, "owner": owner}
    errors: dict[str, str] = {}
    listing: dict[str, Any] = {"items": [], "next_cursor": None}
    try:
        listing = await page.api.get("ip-registry", "/assets", {**filters, "cursor": cursor, "limit": limit})
    except ApiError as error:
        if error.status != 422:
            raise
        errors = field_errors(error, known=set(filters) | {"cursor", "limit"})
    years = await _yearly_figures(page.api, owner) if owner else []
    return page.render("member/portfolio.html", assets=listing["items"], next_cursor=listing.get("next_cursor"),
                       filters=filters, cursor=cursor, years=years, errors=errors, kinds=KINDS,
                       statuses=STATUSES)  # fmt: skip


async def _yearly_figures(api: ServiceClient, member_id: str) -> list[dict[str, Any]]:
    try:
        figures = await api.get("ip-registry", f"/members/{member_id}/portfolio")
    except ApiError:
        return []
    years: list[dict[str, Any]] = figures["years"]
    return years


@router.get("/assets/new")
async def new_asset(page: PageDep) -> Response:
    values = {"owners.0.member_id": page.user.member_id or "", "status": "filed", "jurisdiction": "CN",
              "kind": "invention_patent", "idempotency_key": str(uuid.uuid4())}  # fmt: skip
    return page.render("member/register.html", values=values, errors={}, kinds=KINDS, statuses=STATUSES, rows=ROWS)


def registration_body(page: Page, values: dict[str, str]) -> dict[str, Any]:
    """The `POST /assets` body from the form; raises FieldError for a share that is not a percentage."""
    texts = ("title", "kind", "jurisdiction", "application_number", "status", "technology_field")
    body: dict[str, Any] = {k: values[k].strip() for k in texts if values.get(k, "").strip()}
    for date_field in ("filing_date", "ownership_effective_date", "disclosure_date"):
        if values.get(date_field):
            body[date_field] = values[date_field]
    body["registered_by"] = page.user.member_id or values.get("registered_by", "").strip()
    body["owners"] = _rows(values, "owners", "member_id", "share", "share_bps")
    body["inventors"] = _rows(values, "inventors", "researcher_id", "contribution", "contribution_bps")
    return body


def _rows(
    values: dict[str, str], group: str, id_field: str, percent_field: str, bps_field: str
) -> list[dict[str, Any]]:
    """The filled rows of a group (`owners.0.member_id`, `owners.0.share`, ...); empty rows are skipped."""
    return [
        {id_field: values[f"{group}.{i}.{id_field}"].strip(),
         bps_field: percent_to_bps(f"{group}.{i}.{percent_field}", values.get(f"{group}.{i}.{percent_field}", ""))}
        for i in range(ROWS) if values.get(f"{group}.{i}.{id_field}", "").strip()
    ]  # fmt: skip


@router.post("/assets/new")
async def register_asset(page: PageDep) -> Response:
    values = form_values(await page.form())
    try:
        body = registration_body(page, values)
        created = await page.api.post("ip-registry", "/assets", body, idempotency_key=values.get("idempotency_key"))
    except FieldError as error:
        errors = {error.field: page.t(str(error))}
    except ApiError as error:
        if error.status >= 500 or error.status == 401:
            raise
        errors = field_errors(error, {"share_bps": "share", "contribution_bps": "contribution"}, set(values))
    else:
        return page.redirect(f"/assets/{created['id']}?registered=1")
    return page.render("member/register.html", status=422, values=corrected(values), errors=errors, kinds=KINDS,
                       statuses=STATUSES, rows=ROWS)  # fmt: skip


@router.get("/assets/{asset_id}")
async def asset_page(page: PageDep, asset_id: uuid.UUID, registered: str = "", confirmed: str = "") -> Response:
    api = page.api
    asset, history = await asyncio.gather(
        api.get("ip-registry", f"/assets/{asset_id}"), api.get("ip-registry", f"/assets/{asset_id}/ownership/history")
    )
    licenses: list[dict[str, Any]] = []
    licenses_error: ApiError | None = None
    try:
        licenses = await api.get("commercialization", f"/assets/{asset_id}/licenses")
    except ApiError as error:
        licenses_error = error
    member_ids = {o["member_id"] for o in asset["owners"]} | {asset["registered_by"]}
    member_ids |= {o["member_id"] for period in history for o in period["owners"]}
    member_ids |= {c["paid_by"] for c in asset["costs"]} | {i["affiliation_member_id"] for i in asset["inventors"]}
    if asset.get("pending_ownership"):
        member_ids |= {o["member_id"] for o in asset["pending_ownership"]["owners"]}
    members = await names_of(api, "member", member_ids)
    return page.render("member/asset.html", asset=asset, history=history, licenses=licenses,
                       licenses_error=licenses_error, members=members, lifecycle=lifecycle(asset),
                       registered=registered, confirmed=confirmed)  # fmt: skip


def lifecycle(asset: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The asset's dated steps in order: (step, date, number)."""
    steps = [
        ("disclosed", asset.get("disclosure_date"), ""),
        ("filed", asset.get("filing_date"), asset.get("application_number", "")),
        ("published", asset.get("publication_date"), asset.get("publication_number", "")),
        ("granted", asset.get("grant_date"), asset.get("grant_number", "")),
        ("expires", asset.get("expiry_date"), ""),
        ("ended", asset.get("ended_on"), asset.get("status", "") if asset.get("ended_on") else ""),
    ]
    return [(step, day, number) for step, day, number in steps if day]


@router.get("/confirmations")
async def confirmations(page: PageDep) -> Response:
    me = page.user.member_id
    if me is None:
        return page.render("member/confirmations.html", awaiting=[], members={}, errors={}, values={})
    awaiting = await awaiting_confirmation(page.api, me)
    ids = {o["member_id"] for a in awaiting for o in a["pending_ownership"]["owners"]}
    members = await names_of(page.api, "member", ids)
    return page.render("member/confirmations.html", awaiting=awaiting, members=members, errors={}, values={})


async def awaiting_confirmation(api: ServiceClient, member_id: str) -> list[dict[str, Any]]:
    """Assets naming this member as a co-owner whose confirmation is still missing (every page of them)."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        listing = await api.get("ip-registry", "/assets", {"owner": member_id, "limit": 500, "cursor": cursor})
        found += [a for a in listing["items"] if a.get("pending_ownership")
                  and member_id in a["pending_ownership"]["awaiting"]]  # fmt: skip
        cursor = listing.get("next_cursor") or ""
        if not cursor:
            return found


@router.post("/assets/{asset_id}/confirmation")
async def confirm_ownership(page: PageDep, asset_id: uuid.UUID) -> Response:
    form = form_values(await page.form())
    decision = form.get("decision", "confirm")
    me = page.user.member_id
    body: dict[str, Any] = {"member_id": me}
    if decision == "decline":
        body["reason"] = form.get("reason", "").strip()
    path = "confirmations" if decision == "confirm" else "declines"
    try:
        await page.api.post("ip-registry", f"/assets/{asset_id}/ownership/{path}", body)
    except ApiError as error:
        if error.status >= 500 or error.status == 401:
            raise
        awaiting = await awaiting_confirmation(page.api, me) if me else []
        members = await names_of(page.api, "member", {o["member_id"] for a in awaiting
                                                      for o in a["pending_ownership"]["owners"]})  # fmt: skip
        errors = {f"{asset_id}.{k}": v for k, v in field_errors(error, known={"reason"}).items()}
        return page.render("member/confirmations.html", status=422, awaiting=awaiting, members=members,
                           errors=errors, values={f"{asset_id}.reason": form.get("reason", "")})  # fmt: skip
    return page.redirect(f"/assets/{asset_id}?confirmed={decision}")


@router.get("/my-statements")
async def my_statements(page: PageDep, period: str = "") -> Response:
    api = page.api
    periods = await api.get("revenue-share", "/periods")
    chosen = period or (periods[-1]["period_id"] if periods else "")
    payouts: list[dict[str, Any]] = []
    statements: list[dict[str, Any]] = []
    if chosen:
        payouts, statements = await asyncio.gather(
            api.get("revenue-share", "/payouts", {"period_id": chosen}),
            api.get("revenue-share", f"/periods/{chosen}/provisional" if _is_open(periods, chosen)
                    else f"/periods/{chosen}/statements"),
        )  # fmt: skip
    names = await payee_names(api, [p["payee"] for p in payouts] + [s["payee"] for s in statements])
    return page.render("member/statements.html", periods=periods, chosen=chosen, payouts=payouts, names=names,
                       statements=statements, provisional=_is_open(periods, chosen))  # fmt: skip


def _is_open(periods: list[dict[str, Any]], period_id: str) -> bool:
    return any(p["period_id"] == period_id and p["status"] == "open" for p in periods)


@router.get("/imports")
async def import_form(page: PageDep) -> Response:
    if not may(page.user.principal, Permission.ACT_FOR_ANY_MEMBER):  # as the registry asks it
        return page.render("error.html", status=403, title=page.t("Not allowed for your role"),
                           message=page.t("Only an administrator imports a portfolio."))  # fmt: skip
    return page.render("member/import.html", result=None, rows=[], error=None, key=str(uuid.uuid4()))


@router.post("/imports")
async def import_portfolio(page: PageDep) -> Response:
    """All or nothing, as the registry does it; a 422 lists every bad row by line."""
    form = await page.form()
    upload = form.get("file")
    key = str(form.get("idempotency_key") or uuid.uuid4())
    if upload is None or isinstance(upload, str):
        return page.render("member/import_result.html", status=422, result=None, error=None,
                           rows=[{"line": "", "message": page.t("Choose a CSV file.")}])  # fmt: skip
    content = await upload.read()
    try:
        result = await page.api.upload("ip-registry", "/assets/imports", content, "text/csv", idempotency_key=key)
    except ApiError as error:
        if error.status != 422:
            raise
        rows = error.details.get("rows") or [{"line": "", "message": error.message}]
        return page.render("member/import_result.html", status=422, result=None, rows=rows, error=error)
    return page.render("member/import_result.html", result=result, rows=[], error=None)
