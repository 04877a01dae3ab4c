"""The revenue-share HTTP API: periods, provisional payouts, statements, reconciliation."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status

from ipshare.runtime import Runtime, http_api
from ipshare.web import CommandContextDep
from revenue_share.application import Payouts, RevenueShareApplication
from revenue_share.domain.facts import PayeeKind
from revenue_share.domain.statements import Statement
from revenue_share.entrypoints import schemas as s
from revenue_share.entrypoints.wiring import payouts_of


def _payouts(request: Request) -> Payouts:
    payouts: Payouts = request.app.state.payouts
    return payouts


def _application(request: Request) -> RevenueShareApplication:
    app: RevenueShareApplication = request.app.state.application()
    return app


App = Annotated[RevenueShareApplication, Depends(_application)]
PayoutsDep = Annotated[Payouts, Depends(_payouts)]
periods = APIRouter(prefix="/periods", tags=["periods"])
payouts = APIRouter(prefix="/payouts", tags=["payouts"])
policies = APIRouter(prefix="/policies", tags=["policies"])


@periods.post("", status_code=status.HTTP_201_CREATED)
async def open_period(
    body: s.OpenPeriod, ledger: PayoutsDep, ctx: CommandContextDep, response: Response
) -> s.PeriodOut:
    """Open the period that starts the day after the last one ends (the first may start any day)."""
    period = await ledger.open_period(ctx, body.period_id, body.start, body.end)
    response.headers["Location"] = f"/periods/{quote(period.period_id, safe='')}"  # headers are Latin-1
    return s.PeriodOut.of(period, None)


@periods.get("")
async def list_periods(app: App, _: CommandContextDep) -> list[s.PeriodOut]:
    def described() -> list[s.PeriodOut]:
        return [s.PeriodOut.of(p, app.closed_by(p)) for p in app.periods()]

    return await asyncio.to_thread(described)


@periods.get("/{period_id}")
async def get_period(period_id: str, app: App, _: CommandContextDep) -> s.PeriodOut:
    period = await asyncio.to_thread(app.period, period_id)
    return s.PeriodOut.of(period, await asyncio.to_thread(app.closed_by, period))


@periods.post("/{period_id}/close")
async def close_period(period_id: str, ledger: PayoutsDep, app: App, ctx: CommandContextDep) -> s.Closed:
    """Issue the period's immutable statements; later facts land in the next period.

    The close first waits until revenue-share has applied everything the source services' topics
    held when it was requested (409 `inbox_behind`, with the lag per partition, if that takes longer
    than `CLOSE_WAIT_SECONDS`)."""
    await ledger.close(ctx, period_id)
    period = await asyncio.to_thread(app.period, period_id)
    return s.Closed.of(period, await asyncio.to_thread(app.closed_by, period))


@periods.get("/{period_id}/provisional")
async def provisional(period_id: str, ledger: PayoutsDep, ctx: CommandContextDep) -> list[s.StatementOut]:
    return [s.StatementOut.of(st) for st in await ledger.provisional(ctx, period_id)]


@periods.get("/{period_id}/statements")
async def statements(
    period_id: str,
    ledger: PayoutsDep,
    app: App,
    ctx: CommandContextDep,
    known_at: Annotated[s.RecordingTime | None, Query(description=s.KNOWN_AT)] = None,
    as_of: Annotated[s.RecordingTime | None, Query(description=s.AS_OF, deprecated=True)] = None,
) -> list[s.StatementOut]:
    """The issued statements; with `known_at`, what they were (or would have been) on the facts
    revenue-share had recorded by then. The business dates that count are the period's own."""
    recorded_by = s.one_recording_time(known_at, as_of)
    found = await (
        ledger.statements(ctx, period_id)
        if recorded_by is None
        else ledger.statements_known_at(ctx, period_id, recorded_by)
    )
    closed_by = await asyncio.to_thread(lambda: app.closed_by(app.period(period_id)))
    return [s.StatementOut.of(st, closed_by) for st in found]


@periods.get("/{period_id}/explain")
async def explain(
    period_id: str,
    payee_kind: PayeeKind,
    payee_id: str,
    ledger: PayoutsDep,
    ctx: CommandContextDep,
    payee_account: str = "",
) -> s.ExplanationOut:
    """A payee's lines with the source events (receipts; ownership, inventor, cost and policy facts) behind each."""
    provisional, found = await ledger.explain(ctx, period_id, payee_kind.value, payee_id, payee_account)
    return s.ExplanationOut.of(period_id, provisional, found)


_CSV = {"text/csv": {"schema": {"type": "string"}, "example": ",".join(s.ReconciliationOut.model_fields)}}


@periods.get(
    "/{period_id}/reconciliation", response_model=list[s.ReconciliationOut],
    responses={200: {"content": _CSV, "description": "one row per currency; CSV with `format=csv`"}},
)  # fmt: skip
async def reconciliation(
    period_id: str, ledger: PayoutsDep, ctx: CommandContextDep, format: Literal["json", "csv"] = "json"
) -> Any:
    """Per currency: receipts + carried in = fees + cost recoveries + payouts + carried forward."""
    rows = [s.ReconciliationOut.of(r) for r in await ledger.reconcile(ctx, period_id)]
    if format == "json":
        return rows
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(s.ReconciliationOut.model_fields))
    writer.writeheader()
    writer.writerows(r.model_dump() for r in rows)
    return Response(out.getvalue(), media_type="text/csv")


@payouts.get("")
async def list_payouts(period_id: str, ledger: PayoutsDep, ctx: CommandContextDep) -> list[s.PayoutOut]:
    """Each payee's money for a period: as issued when it is closed, provisional while it is open."""
    _, found = await ledger.current(ctx, period_id)
    return [row for statement in found for row in _payout_rows(statement)]


@policies.post("/center", status_code=status.HTTP_201_CREATED)
async def set_center_policy(body: s.CenterPolicyIn, ledger: PayoutsDep, ctx: CommandContextDep) -> s.PolicyOut:
    """A new center-wide version (admin); rejected if it would put a state-established member below the floor."""
    return s.PolicyOut.of(await ledger.set_policy(ctx, lambda now: body.policy(now, ctx.principal.subject)))


@policies.post("/members/{member_id}", status_code=status.HTTP_201_CREATED)
async def set_member_policy(
    member_id: uuid.UUID, body: s.MemberPolicyIn, ledger: PayoutsDep, ctx: CommandContextDep
) -> s.PolicyOut:
    """A new version of a member's own split (admin only)."""
    return s.PolicyOut.of(
        await ledger.set_policy(ctx, lambda now: body.policy(str(member_id), now, ctx.principal.subject))
    )


@policies.get("")
async def list_policies(ledger: PayoutsDep, ctx: CommandContextDep) -> list[s.PolicyOut]:
    """Every version ever recorded, in recording order (a member sees the center's and its own)."""
    return [s.PolicyOut.of(p) for p in await ledger.policies(ctx)]


def _payout_rows(statement: Statement) -> list[s.PayoutOut]:
    payee = s.PayeeOut(kind=statement.payee.kind, id=statement.payee.id, account=statement.payee.account)
    return [
        s.PayoutOut(payee=payee, currency=b.currency, entitled=b.entitled, paid=b.paid, carried_out=b.carried_out)
        for b in statement.balances
    ]


ROUTERS = (periods, payouts, policies)


def create_http(runtime: Runtime[RevenueShareApplication, Any]) -> FastAPI:
    api = http_api(runtime, *ROUTERS)
    api.state.payouts = payouts_of(runtime)
    return api
