"""The shared HTTP behaviour: JSON errors, bearer auth, idempotency keys, If-Match."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.auth import Role, issue_token
from ipshare.idempotency import (
    check_version,
    expected_version,
    idempotency_keys,
    install_idempotency,
)
from ipshare.settings import AuthSettings
from ipshare.web import CurrentPrincipal, create_api, require_roles
from ipshare_devtools.testing.tables import migrated_engine
from ipshare_kernel.errors import Conflict

SETTINGS = AuthSettings(jwt_secret="a-test-secret-long-enough-for-hs256-keys")


class Widget(BaseModel):
    name: str = Field(min_length=1)
    size: int = Field(gt=0)


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(fresh_database)
    yield engine
    await engine.dispose()


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    api = create_api("test", SETTINGS, {"always": _ok})
    api.state.made = 0
    install_idempotency(api, lambda: engine)

    @api.post("/widgets", status_code=201)
    async def make(widget: Widget, request: Request, _: CurrentPrincipal) -> dict[str, object]:
        request.app.state.made += 1
        if widget.name == "clash":
            # `status` and `code` as detail names must not clash with the error body's own fields
            raise Conflict("a widget of that name exists", name=widget.name, status="taken", code="w1")
        return {"number": request.app.state.made, **widget.model_dump()}

    @api.put("/widgets/1")
    async def edit(request: Request, _: CurrentPrincipal) -> dict[str, int]:
        check_version(current=3, expected=expected_version(request))
        return {"version": 4}

    @api.delete("/widgets/1", dependencies=[Depends(require_roles(Role.ADMIN))])
    async def remove() -> dict[str, bool]:
        return {"removed": True}

    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def _ok() -> bool:
    return True


def bearer(role: Role = Role.ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role, subject='tester')}"}


async def test_missing_or_bad_token_is_401_with_a_json_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/widgets", json={"name": "a", "size": 1})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    response = await client.post("/widgets", json={}, headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401


async def test_wrong_role_is_403(client: httpx.AsyncClient) -> None:
    response = await client.delete("/widgets/1", headers=bearer(Role.AUDITOR))
    assert response.status_code == 403
    assert "auditor" in response.json()["error"]["message"]


async def test_invalid_body_names_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/widgets", json={"name": "", "size": -1}, headers=bearer())
    assert response.status_code == 422
    assert {p["field"] for p in response.json()["error"]["details"]["problems"]} == {"name", "size"}


async def test_unknown_routes_and_methods_are_404_and_405_with_json(client: httpx.AsyncClient) -> None:
    assert (await client.get("/nowhere")).json()["error"]["code"] == "not_found"
    response = await client.patch("/widgets", headers=bearer())
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_domain_errors_keep_their_status_and_details(client: httpx.AsyncClient) -> None:
    response = await client.post("/widgets", json={"name": "clash", "size": 1}, headers=bearer())
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"name": "clash", "status": "taken", "code": "w1"}


async def test_same_idempotency_key_and_body_replays_the_first_response(client: httpx.AsyncClient) -> None:
    headers = {**bearer(), "Idempotency-Key": "k-1"}
    first = await client.post("/widgets", json={"name": "a", "size": 1}, headers=headers)
    again = await client.post("/widgets", json={"name": "a", "size": 1}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() == {"number": 1, "name": "a", "size": 1}
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/widgets", json={"name": "b", "size": 1}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    fresh = await client.post("/widgets", json={"name": "a", "size": 1}, headers=bearer())
    assert fresh.json()["number"] == 2


async def test_an_answer_holding_a_nul_character_is_kept_and_replayed_byte_for_byte(client: httpx.AsyncClient) -> None:
    headers = {**bearer(), "Idempotency-Key": "k-nul"}
    first = await client.post("/widgets", json={"name": "a\u0000b", "size": 1}, headers=headers)
    again = await client.post("/widgets", json={"name": "a\u0000b", "size": 1}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.json()["name"] == "a\u0000b"
    assert again.headers["idempotent-replayed"] == "true"


async def test_stale_if_match_is_412(client: httpx.AsyncClient) -> None:
    assert (await client.put("/widgets/1", headers={**bearer(), "If-Match": '"3"'})).status_code == 200
    stale = await client.put("/widgets/1", headers={**bearer(), "If-Match": 'W/"2"'})
    assert stale.status_code == 412
    assert stale.json()["error"]["details"] == {"current_version": 3}


async def test_healthz_reports_each_check(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok", "checks": {"always": "ok"}}


async def test_liveness_holds_while_readiness_fails_so_a_waiting_process_is_not_restarted() -> None:
    async def broker_down() -> bool:
        raise ConnectionError("the broker does not answer")

    api = create_api("test", SETTINGS, {"broker": broker_down})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as c:
        ready, live = await c.get("/healthz"), await c.get("/livez")
    assert (ready.status_code, ready.json()["checks"]) == (503, {"broker": "failing"})
    assert (live.status_code, live.json()["status"]) == (200, "ok")


def _token_headers(role: Role = Role.ADMIN, ttl: int = 3600) -> dict[str, str]:
    settings = AuthSettings(jwt_secret=SETTINGS.jwt_secret, jwt_ttl_seconds=ttl)
    return {"Authorization": f"Bearer {issue_token(settings, role, subject='tester')}"}


async def _claims(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(idempotency_keys))).all())


async def test_a_refreshed_token_of_the_same_caller_replays_its_key(client: httpx.AsyncClient) -> None:
    first = await client.post("/widgets", json={"name": "a", "size": 1}, headers={**_token_headers(ttl=3600),
                                                                                   "Idempotency-Key": "k"})  # fmt: skip
    refreshed = {**_token_headers(ttl=7200), "Idempotency-Key": "k"}
    assert refreshed["Authorization"] != _token_headers(ttl=3600)["Authorization"]
    again = await client.post("/widgets", json={"name": "a", "size": 1}, headers=refreshed)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json() == {"number": 1, "name": "a", "size": 1}
    other_caller = await client.post("/widgets", json={"name": "a", "size": 1},
                                     headers={**bearer(Role.FINANCE), "Idempotency-Key": "k"})  # fmt: skip
    assert other_caller.json()["number"] == 2  # keys are per caller


async def test_an_unauthenticated_request_claims_no_key(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    for headers in ({}, {"Authorization": "Bearer forged"}):
        response = await client.post("/widgets", json={"name": "a", "size": 1},
                                     headers={**headers, "Idempotency-Key": "k"})  # fmt: skip
        assert response.status_code == 401
    assert await _claims(engine) == []


async def test_the_query_string_is_part_of_the_request(client: httpx.AsyncClient) -> None:
    headers = {**bearer(), "Idempotency-Key": "k"}
    assert (await client.post("/widgets?batch=1", json={"name": "a", "size": 1}, headers=headers)).status_code == 201
    other = await client.post("/widgets?batch=2", json={"name": "a", "size": 1}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


async def test_a_key_expires_after_its_time_to_live(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    headers = {**bearer(), "Idempotency-Key": "k"}
    assert (await client.post("/widgets", json={"name": "a", "size": 1}, headers=headers)).json()["number"] == 1
    await _age_claims(engine, timedelta(hours=25))
    later = await client.post("/widgets", json={"name": "a", "size": 1}, headers=headers)
    assert "idempotent-replayed" not in later.headers
    assert later.json()["number"] == 2


async def test_a_claim_abandoned_by_a_crash_is_taken_over_after_the_lease(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    headers = {**bearer(), "Idempotency-Key": "k"}
    await client.post("/widgets", json={"name": "a", "size": 1}, headers=headers)
    async with engine.begin() as conn:  # as a process that died after claiming the key leaves it
        await conn.execute(update(idempotency_keys).values(status=None, response=None, headers=None))
    running = await client.post("/widgets", json={"name": "a", "size": 1}, headers=headers)
    assert running.status_code == 409
    assert running.json()["error"]["code"] == "request_in_progress"
    await _age_claims(engine, timedelta(minutes=10))
    taken_over = await client.post("/widgets", json={"name": "a", "size": 1}, headers=headers)
    assert taken_over.status_code == 201
    assert taken_over.json()["number"] == 2
    replayed = await client.post("/widgets", json={"name": "a", "size": 1}, headers=headers)
    assert replayed.headers["idempotent-replayed"] == "true"


async def _age_claims(engine: AsyncEngine, by: timedelta) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(idempotency_keys).values(created_at=idempotency_keys.c.created_at - by))
