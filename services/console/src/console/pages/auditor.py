"""Auditors: each service's log (size, root, signing key), its checkpoints, a verification of the
live logs run on demand, and any aggregate's history with inclusion proofs."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi import APIRouter, Response

from console.api import SERVICES, ApiError
from console.web import PageDep
from ipshare.audit_check import AuditReport, check_all
from ipshare.audit_history import LiveFetcher, ServiceAddress
from revenue_share.audit import check_statements

router = APIRouter()


@router.get("/audit")
async def audit(page: PageDep) -> Response:
    api = page.api

    async def one(service: str) -> dict[str, Any]:
        try:
            log, checkpoints = await asyncio.gather(
                api.get(service, "/audit/log"), api.get(service, "/audit/checkpoints")
            )
        except ApiError as error:
            return {"service": service, "error": error}
        return {"service": service, "log": log, "checkpoints": checkpoints}

    logs = await asyncio.gather(*(one(s) for s in SERVICES))
    return page.render("auditor/audit.html", logs=logs, services=SERVICES, values={}, errors={})


async def verify_live(token: str, addresses: list[ServiceAddress]) -> AuditReport:
    """What `ipshare verify --no-topics` checks, over the services' audit APIs with the auditor's token."""
    fetcher = LiveFetcher(token, None, lambda *_: None)
    histories = [await fetcher.fetch(address) for address in addresses]
    check = check_statements if any(a.service == "revenue-share" for a in addresses) else None
    return await asyncio.to_thread(check_all, histories, {}, check)


@router.post("/audit/verification")
async def verification(page: PageDep) -> Response:
    form = await page.form()
    chosen = [s for s in SERVICES if form.get("service") in (s, "all")]
    urls, grpc = page.settings.service_urls(), page.settings.grpc_addresses()
    addresses = [ServiceAddress(s, grpc[s], urls[s]) for s in chosen]
    started = time.perf_counter()
    try:
        report = await verify_live(page.user.token, addresses)
    except Exception as error:  # gRPC or HTTP unreachable, a refusal: say what, not a stack trace
        return page.render("auditor/verification.html", report=None, failure=str(error), seconds=0.0,
                           services=chosen)  # fmt: skip
    return page.render("auditor/verification.html", report=report, failure="", services=chosen,
                       seconds=time.perf_counter() - started)  # fmt: skip


@router.get("/audit/history")
async def history(page: PageDep, service: str = "", aggregate_id: str = "") -> Response:
    values = {"service": service, "aggregate_id": aggregate_id}
    errors: dict[str, str] = {}
    found: dict[str, Any] | None = None
    if service not in SERVICES:
        errors["service"] = page.t("Choose a service.")
    try:
        uuid.UUID(aggregate_id)
    except ValueError:
        errors["aggregate_id"] = page.t("Enter the aggregate's id (a UUID).")
    if not errors:
        try:
            found = await page.api.get(service, f"/audit/aggregates/{aggregate_id}/history", {"proofs": "true"})
        except ApiError as error:
            if error.status in (401, 403) or error.status >= 500:
                raise
            errors["aggregate_id"] = error.message
    status = 422 if errors and (service or aggregate_id) else 200
    return page.render("auditor/history.html", status=status, history=found, values=values, errors=errors,
                       services=SERVICES)  # fmt: skip
