"""Incubator managers (and finance, who releases tranches): the seed-project board, a project's
milestones with evidence, approval, rejection and release; spin-offs with their cap table as of
any date, KPI charts and option grants with vesting."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Response

from console import charts
from console.api import ApiError
from console.formatting import basis_points, count, money
from console.forms import field_errors
from console.pages.names import names_of
from console.web import Page, PageDep, form_values

router = APIRouter()

ACTIONS = {"evidence": "evidence", "approve": "approval", "reject": "rejection", "release": "release"}


@router.get("/board")
async def board(page: PageDep, today: str = "") -> Response:
    rows = await page.api.get("incubation", "/board", {"today": today})
    return page.render("incubator/board.html", rows=rows, today=today)


async def _project_page(page: Page, project_id: uuid.UUID, status: int = 200, errors: dict[str, str] | None = None,
                        values: dict[str, str] | None = None, done: str = "") -> Response:  # fmt: skip
    project = await page.api.get("incubation", f"/seed-projects/{project_id}")
    funders = await names_of(page.api, "member", [c["funder_id"] for c in project["commitments"]
                                                  if c["funder_kind"] == "member"])  # fmt: skip
    return page.render("incubator/project.html", status=status, project=project, funders=funders,
                       errors=errors or {}, values=values or {}, done=done, today=date.today().isoformat())  # fmt: skip


@router.get("/seed-projects/{project_id}")
async def project(page: PageDep, project_id: uuid.UUID, done: str = "") -> Response:
    return await _project_page(page, project_id, done=done)


def milestone_body(action: str, values: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if values.get("effective_date"):
        body["effective_date"] = values["effective_date"]
    if action == "evidence":
        body["evidence"] = [line.strip() for line in values.get("evidence", "").splitlines() if line.strip()]
    if action == "reject":
        body["reason"] = values.get("reason", "").strip()
    return body


@router.post("/seed-projects/{project_id}/milestones/{milestone_id}/{action}")
async def decide(page: PageDep, project_id: uuid.UUID, milestone_id: str, action: str) -> Response:
    """Evidence, approval, rejection or release; a refusal (the 409 naming the milestone still open,
    a missing reason) is shown beside that milestone's form, with what was typed."""
    values = form_values(await page.form())
    if action not in ACTIONS:
        return page.render("error.html", status=404, title=page.t("No such action"), message=action)
    path = f"/seed-projects/{project_id}/milestones/{milestone_id}/{ACTIONS[action]}"
    try:
        await page.api.post("incubation", path, milestone_body(action, values))
    except ApiError as error:
        if error.status >= 500 or error.status == 401:
            raise
        found = field_errors(error, known={"evidence", "reason", "effective_date"})
        errors = {f"{milestone_id}.{k}": v for k, v in found.items()}
        if error.status == 409:
            errors[f"{milestone_id}._form"] = page.t("Refused: {message}", message=error.message)
        kept = {f"{milestone_id}.{k}": v for k, v in values.items()}
        return await _project_page(page, project_id, status=error.status, errors=errors, values=kept)
    return page.redirect(f"/seed-projects/{project_id}?done={action}")


@router.get("/spin-offs")
async def spin_offs(page: PageDep) -> Response:
    found = await page.api.get("incubation", "/spin-offs")
    return page.render("incubator/spin_offs.html", spin_offs=found)


@router.get("/spin-offs/{spin_off_id}")
async def spin_off(page: PageDep, spin_off_id: uuid.UUID, as_of: str = "") -> Response:
    api = page.api
    details, cap_table, grants = await asyncio.gather(
        api.get("incubation", f"/spin-offs/{spin_off_id}"),
        api.get("incubation", f"/spin-offs/{spin_off_id}/cap-table", {"as_of": as_of}),
        api.get("incubation", f"/spin-offs/{spin_off_id}/grants", {"as_of": as_of}),
    )
    holders = [line["holder"] for line in cap_table["fully_diluted"] if line["holder"]]
    holders += [h["holder"] for h in cap_table["holdings"]]
    members = await names_of(api, "member", (h["id"] for h in holders if h["kind"] == "member"))
    researchers = await names_of(api, "researcher", [h["id"] for h in holders if h["kind"] == "researcher"]
                                 + [g["researcher_id"] for g in grants])  # fmt: skip
    names = {f"member:{k}": v for k, v in members.items()} | {f"researcher:{k}": v for k, v in researchers.items()}
    return page.render("incubator/spin_off.html", spin_off=details, cap_table=cap_table, grants=grants, names=names,
                       as_of=as_of, cap_chart=cap_chart(page, cap_table, names),
                       kpi_charts=kpi_charts(page, details))  # fmt: skip


def holder_name(page: Page, holder: dict[str, str] | None, names: dict[str, str]) -> str:
    if holder is None:
        return page.t("option pool (not granted)")
    return names.get(f"{holder['kind']}:{holder['id']}", holder["id"])


def cap_chart(page: Page, cap_table: dict[str, Any], names: dict[str, str]) -> charts.Svg:
    bars = [charts.Bar(holder_name(page, line["holder"], names), line["total"],
                       f"{count(line['total'], page.lang)} · {basis_points(line['basis_points'], page.lang)}")
            for line in cap_table["fully_diluted"]]  # fmt: skip
    return charts.bar_chart(bars, page.t("Fully diluted ownership on {day}", day=cap_table["as_of"]))


def kpi_charts(page: Page, spin_off: dict[str, Any]) -> list[tuple[str, charts.Svg]]:
    """(caption, chart) per KPI, in the order the table shows them."""
    kpis = spin_off["kpis"]
    if not kpis:
        return []

    def amounts(key: str) -> list[charts.Bar]:
        return [charts.Bar(k["period"], k[key]["amount_minor"],
                           money(k[key]["amount_minor"], k[key]["currency"], page.lang)) for k in kpis]  # fmt: skip

    revenue, funding = amounts("revenue"), amounts("follow_on_funding")
    headcount = [charts.Bar(k["period"], k["headcount"], count(k["headcount"], page.lang)) for k in kpis]
    patents = [charts.Bar(k["period"], k["patents_filed"], count(k["patents_filed"], page.lang)) for k in kpis]
    captions = (page.t("Revenue by period"), page.t("Follow-on funding by period"), page.t("Headcount by period"),
                page.t("Patents filed by period"))  # fmt: skip
    return [(caption, charts.bar_chart(bars, caption))
            for caption, bars in zip(captions, (revenue, funding, headcount, patents), strict=True)]  # fmt: skip
