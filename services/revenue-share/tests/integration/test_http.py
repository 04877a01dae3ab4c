"""The revenue-share HTTP API as the service builds it, over the real PostgreSQL: periods,
policies posted while a close runs, and the times of "as of"."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.auth import Role, issue_token
from ipshare.runtime import Runtime
from revenue_share.application import Payouts, RevenueShareApplication
from revenue_share.domain.statements import statement_hash
from revenue_share.entrypoints.http import create_http
from revenue_share.entrypoints.main import RevenueShareSettings, spec

from .conftest import FINANCE, learn, slice_events

pytestmark = pytest.mark.integration

SETTINGS = RevenueShareSettings(jwt_secret="revenue-share-http-integration-secret-0123", close_wait_seconds=0)
Client = httpx.AsyncClient
Q4 = {"period_id": "2026-Q4", "start": "2026-10-01", "end": "2026-12-31"}
POLICY = {"version": "center-during-close", "effective_date": "2026-01-01", "fee_bps": 1000,
          "researcher_brackets": [{"from_amount": 0, "researchers_bps": 6000}]}  # fmt: skip


class HandedInRuntime(Runtime[RevenueShareApplication, RevenueShareSettings]):
    """The service's runtime with its application and database handed in, not started (no broker)."""

    def __init__(self, app: RevenueShareApplication, engine: AsyncEngine) -> None:
        super().__init__(spec(SETTINGS))
        self._app, self._engine = app, engine


async def _client(application: RevenueShareApplication, engine: AsyncEngine) -> Client:
    api = create_http(HandedInRuntime(application, engine))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test")


@pytest.fixture
async def client(application: RevenueShareApplication, engine: AsyncEngine) -> AsyncIterator[Client]:
    async with await _client(application, engine) as c:
        yield c


def bearer(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role)}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_a_period_must_follow_the_last_one_and_a_refused_one_is_not_kept(client: Client) -> None:
    ok(await client.post("/periods", json={**Q4, "period_id": "2025"} | {"start": "2025-01-01", "end": "2025-12-31"},
                         headers=bearer(Role.FINANCE)), 201)  # fmt: skip

    gap = await client.post("/periods", json={"period_id": "2030", "start": "2030-01-01", "end": "2030-12-31"},
                            headers=bearer(Role.FINANCE))  # fmt: skip

    assert gap.status_code == 422, gap.text
    assert "must start the day after 2025 ends" in gap.json()["error"]["message"]
    assert [p["period_id"] for p in ok(await client.get("/periods", headers=bearer(Role.FINANCE)))] == ["2025"]
    ok(await client.get("/periods/2025/provisional", headers=bearer(Role.FINANCE)))  # the ledger still answers


async def test_two_opens_of_the_same_start_at_once_open_one_period(
    application: RevenueShareApplication, engine: AsyncEngine
) -> None:
    # Two service processes, each with its own ledger and lock: only the database orders them.
    async with await _client(application, engine) as one, await _client(application, engine) as other:
        answers = await asyncio.gather(
            *(c.post("/periods", json={**Q4, "period_id": f"2026-Q4-{i}"}, headers=bearer(Role.FINANCE))
              for i, c in enumerate([one, other, one, other]))
        )  # fmt: skip
        periods = ok(await one.get("/periods", headers=bearer(Role.FINANCE)))
        provisional = await other.get(f"/periods/{periods[0]['period_id']}/provisional", headers=bearer(Role.FINANCE))

    assert sorted(a.status_code for a in answers) == [201, 422, 422, 422], [a.text for a in answers]
    assert len(periods) == 1
    assert provisional.status_code == 200, provisional.text


async def test_a_period_id_in_any_script_is_opened_and_found_by_its_location(client: Client) -> None:
    opened = await client.post("/periods", json={**Q4, "period_id": "2026年第四季度"}, headers=bearer(Role.FINANCE))

    assert opened.status_code == 201, opened.text
    assert opened.headers["Location"] == f"/periods/{quote('2026年第四季度')}"
    assert (
        ok(await client.get(opened.headers["Location"], headers=bearer(Role.FINANCE)))["period_id"] == "2026年第四季度"
    )


async def test_a_period_id_no_path_can_hold_is_refused_naming_the_field(client: Client) -> None:
    refused = await client.post("/periods", json={**Q4, "period_id": "2026/Q4"}, headers=bearer(Role.FINANCE))

    assert refused.status_code == 422
    assert [p["field"] for p in refused.json()["error"]["details"]["problems"]] == ["period_id"]
    assert ok(await client.get("/periods", headers=bearer(Role.FINANCE))) == []


async def _waiting_for_the_inbox_lock(dsn: str) -> None:
    """Until a session waits to lock the inbox (the close, behind the test's own lock)."""
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(500):
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'facts' AND NOT l.granted"
            )
            if waiting:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the close never waited for the inbox's lock")
    finally:
        await conn.close()


async def test_a_policy_posted_while_a_close_runs_never_changes_the_issued_statements(
    client: Client, application: RevenueShareApplication, engine: AsyncEngine, fresh_database: str
) -> None:
    await learn(engine, slice_events())
    ok(await client.post("/periods", json=Q4, headers=bearer(Role.FINANCE)), 201)
    dsn = fresh_database
    holder = await asyncpg.connect(dsn)  # holds the close at its lock, so the policy arrives meanwhile
    await holder.execute("BEGIN; LOCK TABLE facts IN EXCLUSIVE MODE")
    close = asyncio.ensure_future(client.post("/periods/2026-Q4/close", headers=bearer(Role.FINANCE)))
    await asyncio.wait_for(_waiting_for_the_inbox_lock(dsn), 10)
    policy = asyncio.ensure_future(client.post("/policies/center", json=POLICY, headers=bearer(Role.ADMIN)))
    await asyncio.sleep(0.2)
    await holder.execute("COMMIT")
    await holder.close()
    closed, posted = ok(await close), await policy

    issued = await client.get("/periods/2026-Q4/statements", headers=bearer(Role.FINANCE))
    kept = [p["version"] for p in ok(await client.get("/policies", headers=bearer(Role.ADMIN)))]
    restarted = await Payouts(application, engine).statements(FINANCE, "2026-Q4")  # the process restarted

    # Accepted, it applies from after the close; refused, it leaves nothing behind. Either way the
    # period keeps the statements it was closed with, also after a restart.
    assert (posted.status_code, kept) in ((201, [POLICY["version"]]), (409, [])), posted.text
    assert statement_hash(restarted) == closed["statement_hash"]
    assert {line["policy_version"].split("+")[0] for s in issued.json() for line in s["lines"]} == {"default"}
    if posted.status_code == 201:
        period = ok(await client.get("/periods/2026-Q4", headers=bearer(Role.FINANCE)))
        assert posted.json()["recorded_at"] > period["closed_at"]


async def test_known_at_is_a_recording_time_and_a_business_date_gets_an_explanation(
    client: Client, engine: AsyncEngine
) -> None:
    await learn(engine, slice_events())
    ok(await client.post("/periods", json=Q4, headers=bearer(Role.FINANCE)), 201)
    closed = ok(await client.post("/periods/2026-Q4/close", headers=bearer(Role.FINANCE)))
    period = ok(await client.get("/periods/2026-Q4", headers=bearer(Role.FINANCE)))

    known = await client.get("/periods/2026-Q4/statements", params={"known_at": period["closed_at"]},
                             headers=bearer(Role.FINANCE))  # fmt: skip
    former = await client.get("/periods/2026-Q4/statements", params={"as_of": period["closed_at"]},
                              headers=bearer(Role.FINANCE))  # fmt: skip
    # A business date given as a time: midnight of a day before revenue-share had recorded anything.
    midnight = (datetime.now(UTC) - timedelta(days=20)).strftime("%Y-%m-%dT00:00:00+08:00")
    business_day = await client.get("/periods/2026-Q4/statements", params={"known_at": midnight},
                                    headers=bearer(Role.FINANCE))  # fmt: skip
    bare_date = await client.get("/periods/2026-Q4/statements", params={"known_at": "2026-11-20"},
                                 headers=bearer(Role.FINANCE))  # fmt: skip
    openapi = ok(await client.get("/openapi.json"))

    assert ok(known) == ok(former) != []
    assert closed["statement_hash"]
    assert business_day.status_code == 422
    assert "not a business date" in business_day.json()["error"]["message"]
    assert bare_date.status_code == 422
    assert "not a business date" in bare_date.text
    parameters = {p["name"]: p for p in openapi["paths"]["/periods/{period_id}/statements"]["get"]["parameters"]}
    assert "recording time" in parameters["known_at"]["description"]
    assert parameters["as_of"]["deprecated"] is True


async def test_a_period_and_its_statements_name_the_person_who_closed_it(client: Client, engine: AsyncEngine) -> None:
    await learn(engine, slice_events())
    ok(await client.post("/periods", json=Q4, headers=bearer(Role.FINANCE)), 201)
    assert ok(await client.get("/periods/2026-Q4", headers=bearer(Role.FINANCE)))["closed_by"] is None
    chen = issue_token(SETTINGS, Role.FINANCE, subject="oidc|chen-jing", name="Chen Jing")
    closed = ok(await client.post("/periods/2026-Q4/close", headers={"Authorization": f"Bearer {chen}"}))
    period = ok(await client.get("/periods/2026-Q4", headers=bearer(Role.FINANCE)))
    [listed] = ok(await client.get("/periods", headers=bearer(Role.FINANCE)))
    statements = ok(await client.get("/periods/2026-Q4/statements", headers=bearer(Role.AUDITOR)))

    expected = {"subject": "oidc|chen-jing", "name": "Chen Jing", "member_id": None, "role": "finance"}
    assert closed["closed_by"] == period["closed_by"] == listed["closed_by"] == expected
    assert statements
    assert all(st["closed_by"] == expected for st in statements)


async def test_the_reconciliation_comes_as_csv_too_as_the_document_says(client: Client, engine: AsyncEngine) -> None:
    await learn(engine, slice_events())
    ok(await client.post("/periods", json=Q4, headers=bearer(Role.FINANCE)), 201)
    path = "/periods/2026-Q4/reconciliation"
    as_json = ok(await client.get(path, headers=bearer(Role.FINANCE)))
    as_csv = await client.get(path, params={"format": "csv"}, headers=bearer(Role.FINANCE))
    document = ok(await client.get("/openapi.json"))

    assert as_json
    assert as_csv.status_code == 200, as_csv.text
    documented = document["paths"]["/periods/{period_id}/reconciliation"]["get"]["responses"]["200"]["content"]
    assert as_csv.headers["content-type"].split(";")[0] in documented
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [{k: v if k in ("period_id", "currency") else int(v) for k, v in row.items()} for row in rows] == as_json
