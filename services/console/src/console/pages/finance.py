"""Finance: settlement periods (open, provisional totals, close), statements with each line's
explanation, the reconciliation as a waterfall, receivables ageing, receipts, and downloads."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Response

from console import charts, exports
from console.api import ApiError
from console.formatting import business_date, money, timestamp
from console.forms import FieldError, amount_to_minor, field_errors
from console.pages.names import payee_names
from console.pdf import cjk_font, statement_pdf
from console.web import Page, PageDep, corrected, form_values

router = APIRouter()

AGEING_BUCKETS = ("current", "30", "60", "90+")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/periods")
async def periods(page: PageDep) -> Response:
    found = await page.api.get("revenue-share", "/periods")
    year = date.today().year
    values = {"period_id": str(year), "start": f"{year}-01-01", "end": f"{year}-12-31",
              "idempotency_key": str(uuid.uuid4())}  # fmt: skip
    return page.render("finance/periods.html", periods=found, values=values, errors={})


@router.post("/periods")
async def open_period(page: PageDep) -> Response:
    values = form_values(await page.form())
    body = {k: values.get(k, "").strip() for k in ("period_id", "start", "end")}
    try:
        await page.api.post("revenue-share", "/periods", body, idempotency_key=values.get("idempotency_key"))
    except ApiError as error:
        if error.status >= 500 or error.status == 401:
            raise
        found = await page.api.get("revenue-share", "/periods")
        return page.render("finance/periods.html", status=422, periods=found, values=corrected(values),
                           errors=field_errors(error, known=set(body)))  # fmt: skip
    return page.redirect(f"/periods/{quote(body['period_id'])}")


async def _period_and_statements(page: Page, period_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    period = await page.api.get("revenue-share", f"/periods/{quote(period_id)}")
    which = "provisional" if period["status"] == "open" else "statements"
    return period, await page.api.get("revenue-share", f"/periods/{quote(period_id)}/{which}")


@router.get("/periods/{period_id}")
async def period_page(page: PageDep, period_id: str, closed: str = "") -> Response:
    (period, statements), reconciliation = await asyncio.gather(
        _period_and_statements(page, period_id),
        page.api.get("revenue-share", f"/periods/{quote(period_id)}/reconciliation"),
    )
    names = await payee_names(page.api, [s["payee"] for s in statements])
    return page.render("finance/period.html", period=period, statements=statements, names=names,
                       reconciliation=reconciliation, waterfalls=[waterfall(page, r) for r in reconciliation],
                       closed=closed, errors={}, values={})  # fmt: skip


def waterfall(page: Page, row: dict[str, Any]) -> charts.Svg:
    """Receipts and carried-in money, less each use of it, down to the residual (zero when reconciled)."""
    currency, t = row["currency"], page.t

    def shown(amount: int) -> str:
        return money(amount, currency, page.lang)

    steps = [charts.Step(t("Carried in"), row["carried_in"], shown(row["carried_in"])),
             charts.Step(t("Receipts"), row["receipts"], shown(row["receipts"]))]  # fmt: skip
    uses = (("operating_fees", t("Operating fees")), ("cost_recoveries", t("Cost recoveries")),
            ("payouts", t("Payouts")), ("carried_forward", t("Carried forward")))  # fmt: skip
    for key, label in uses:
        steps.append(charts.Step(label, -row[key], shown(-row[key])))
    steps.append(charts.Step(t("Residual"), row["residual"], shown(row["residual"]), total=True))
    title = t("Reconciliation {currency}: receipts to zero residual", currency=currency)
    return charts.waterfall(steps, title)


@router.get("/periods/{period_id}/totals")
async def provisional_totals(page: PageDep, period_id: str) -> Response:
    """The open period's totals so far (the page asks again every few seconds while receipts arrive)."""
    payouts = await page.api.get("revenue-share", "/payouts", {"period_id": period_id})
    totals: dict[str, int] = defaultdict(int)
    for row in payouts:
        totals[row["currency"]] += row["entitled"]
    return page.render("finance/totals.html", totals=dict(sorted(totals.items())), payees=len(payouts))


@router.post("/periods/{period_id}/close")
async def close_period(page: PageDep, period_id: str) -> Response:
    values = form_values(await page.form())
    htmx = page.request.headers.get("HX-Request") == "true"
    errors: dict[str, str] = {}
    if values.get("confirm") != period_id:
        errors["confirm"] = page.t("Type the period's id to confirm: its statements become final.")
    else:
        try:
            await page.api.post("revenue-share", f"/periods/{quote(period_id)}/close")
        except ApiError as error:
            if error.status >= 500 or error.status == 401:
                raise
            errors = {"confirm": error.message}
    if not errors:
        if htmx:
            response = page.render("finance/closed.html", period_id=period_id)
            response.headers["HX-Redirect"] = f"/periods/{quote(period_id)}?closed=1"
            return response
        return page.redirect(f"/periods/{quote(period_id)}?closed=1")
    if htmx:
        return page.render("finance/close_form.html", status=422, period={"period_id": period_id},
                           errors=errors, values=values)  # fmt: skip
    (period, statements), reconciliation = await asyncio.gather(
        _period_and_statements(page, period_id),
        page.api.get("revenue-share", f"/periods/{quote(period_id)}/reconciliation"),
    )
    names = await payee_names(page.api, [s["payee"] for s in statements])
    return page.render("finance/period.html", status=422, period=period, statements=statements, names=names,
                       reconciliation=reconciliation, waterfalls=[waterfall(page, r) for r in reconciliation],
                       closed="", errors=errors, values=values)  # fmt: skip


@router.get("/periods/{period_id}/explain")
async def explain(page: PageDep, period_id: str, payee_kind: str, payee_id: str, account: str = "",
                  line: int | None = None) -> Response:  # fmt: skip
    """The source events and policy step behind a payee's lines (one line's when `line` is given)."""
    found = await page.api.get("revenue-share", f"/periods/{quote(period_id)}/explain",
                               {"payee_kind": payee_kind, "payee_id": payee_id, "payee_account": account})  # fmt: skip
    lines = found["lines"] if line is None else found["lines"][line : line + 1]
    partial = page.request.headers.get("HX-Request") == "true"
    return page.render("finance/explain.html" if partial else "finance/explain_page.html", lines=lines,
                       explanation=found, period_id=period_id)  # fmt: skip


async def _downloadable(page: Page, period_id: str) -> tuple[list[exports.Row], list[exports.Row]]:
    (period, statements), reconciliation = await asyncio.gather(
        _period_and_statements(page, period_id),
        page.api.get("revenue-share", f"/periods/{quote(period_id)}/reconciliation"),
    )
    names = await payee_names(page.api, [s["payee"] for s in statements])
    reconciled = exports.reconciliation_rows(reconciliation, period.get("closed_by"))
    return exports.statement_rows(statements, names), reconciled


@router.get("/periods/{period_id}/downloads/{name}")
async def download(page: PageDep, period_id: str, name: str) -> Response:
    """statements.csv | statements.xlsx | reconciliation.csv | reconciliation.xlsx"""
    what, _, kind = name.partition(".")
    if what not in ("statements", "reconciliation") or kind not in ("csv", "xlsx"):
        return page.render("error.html", status=404, title=page.t("No such download"), message=name)
    statements, reconciliation = await _downloadable(page, period_id)
    rows, columns, amounts = (
        (statements, exports.STATEMENT_COLUMNS, ("amount",)) if what == "statements"
        else (reconciliation, exports.RECONCILIATION_COLUMNS, exports.RECONCILIATION_AMOUNTS)
    )  # fmt: skip
    if kind == "csv":
        content, media = exports.to_csv(rows, columns, amounts), "text/csv; charset=utf-8"
    else:
        content, media = exports.to_xlsx(rows, columns, amounts, f"{what} {period_id}"), XLSX
    filename = f"{what}-{period_id}.{kind}"
    return Response(content, media_type=media,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})  # fmt: skip


@router.get("/periods/{period_id}/statements/{payee_kind}/{payee_id}.pdf")
async def statement_as_pdf(
    page: PageDep, period_id: str, payee_kind: str, payee_id: str, account: str = ""
) -> Response:
    period, statements = await _period_and_statements(page, period_id)
    chosen = [s for s in statements if s["payee"]["kind"] == payee_kind and s["payee"]["id"] == payee_id
              and s["payee"]["account"] == account]  # fmt: skip
    if not chosen:
        return page.render("error.html", status=404, title=page.t("No such statement"), message=payee_id)
    names = await payee_names(page.api, [chosen[0]["payee"]])
    content = statement_pdf(
        chosen[0], names[f"{payee_kind}:{payee_id}"], period["status"] == "open",
        cjk_font(page.settings.console_pdf_font), page.t,
        lambda amount, currency: money(amount, currency, page.lang),
        lambda moment: timestamp(moment, page.settings.console_time_zone, page.lang),
    )  # fmt: skip
    filename = f"statement-{period_id}-{payee_kind}-{payee_id[:8]}.pdf"
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}"})  # fmt: skip


@router.get("/receivables")
async def receivables(page: PageDep, as_of: str = "") -> Response:
    report = await page.api.get("commercialization", "/receivables", {"as_of": as_of})
    by_currency: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(AGEING_BUCKETS, 0))
    for line in report["lines"]:
        by_currency[line["currency"]][line["bucket"]] = (
            by_currency[line["currency"]].get(line["bucket"], 0) + line["open_amount"]
        )
    day = business_date(report["as_of"], page.lang)
    ageing = {
        currency: charts.bar_chart(
            [
                charts.Bar(page.t(f"bucket {b}"), amount, money(amount, currency, page.lang))
                for b, amount in buckets.items()
            ],
            page.t("Receivables ageing {currency} on {day}", currency=currency, day=day),
        )
        for currency, buckets in sorted(by_currency.items())
    }
    return page.render("finance/receivables.html", report=report, ageing=ageing, by_currency=dict(by_currency),
                       buckets=AGEING_BUCKETS, as_of=as_of)  # fmt: skip


@router.get("/receipts/new")
async def receipt_form(page: PageDep, license_id: str = "") -> Response:
    values = {"license_id": license_id, "currency": "CNY", "received_date": date.today().isoformat(),
              "idempotency_key": str(uuid.uuid4())}  # fmt: skip
    return page.render("finance/receipt.html", values=values, errors={})


@router.post("/receipts/new")
async def record_receipt(page: PageDep) -> Response:
    values = form_values(await page.form())
    license_id = values.get("license_id", "").strip()
    errors: dict[str, str] = {}
    try:
        uuid.UUID(license_id)
        body = {"amount": amount_to_minor("amount", values.get("amount", ""), values.get("currency", "CNY")),
                "currency": values.get("currency", "").strip().upper(), "received_date": values.get("received_date"),
                "payer_reference": values.get("payer_reference", "").strip()}  # fmt: skip
    except FieldError as error:
        errors[error.field] = page.t(str(error))
    except ValueError:
        errors["license_id"] = page.t("Enter the license's id (a UUID).")
    if not errors:
        try:
            await page.api.post("commercialization", f"/accounts/{license_id}/payments", body,
                                idempotency_key=values.get("idempotency_key"))  # fmt: skip
        except ApiError as error:
            if error.status >= 500 or error.status == 401:
                raise
            errors = field_errors(error, {"received_date": "received_date"}, set(values) | {"amount"})
            if error.status == 404:
                errors = {"license_id": error.message}
        else:
            return page.redirect(f"/accounts/{license_id}?recorded=1")
    return page.render("finance/receipt.html", status=422, values=corrected(values), errors=errors)


@router.get("/accounts/{deal_id}")
async def account(page: PageDep, deal_id: uuid.UUID, recorded: str = "") -> Response:
    found = await page.api.get("commercialization", f"/accounts/{deal_id}")
    return page.render("finance/account.html", account=found, recorded=recorded)
