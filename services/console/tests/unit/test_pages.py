"""The console's pages against stand-in services (httpx.MockTransport): sessions, CSRF, errors beside fields."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from console.settings import ConsoleSettings
from console.web import create_app
from ipshare.auth import Role, issue_token
from ipshare.identity import read_token
from ipshare_devtools.testing.traces import record_spans

SECRET = "unit-test-secret-of-at-least-32-characters"
MEMBER = str(uuid.uuid4())
Handler = Callable[[httpx.Request], httpx.Response]
ENGLISH = {"Accept-Language": "en"}


class Services:
    """Answers per (method, path); records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], httpx.Response] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.routes.get(
            (request.method, request.url.path),
            httpx.Response(404, json={"error": {"code": "not_found", "message": f"no {request.url.path}"}}),
        )


@pytest.fixture
def services() -> Services:
    return Services()


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ConsoleSettings(jwt_secret=SECRET), httpx.MockTransport(services))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://console", headers={"Accept-Language": "en"}
        ) as client,
    ):
        yield client


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert found, "the page has no form token"
    return found.group(1)


async def sign_in(browser: httpx.AsyncClient, role: str, member_id: str = "") -> None:
    token = csrf_token((await browser.get("/sign-in")).text)
    answer = await browser.post("/sign-in", data={"csrf_token": token, "role": role, "member_id": member_id})
    assert answer.status_code == 303, answer.text


async def test_the_sign_in_sets_httponly_samesite_cookies_holding_a_token_of_the_issuer(
    browser: httpx.AsyncClient,
) -> None:
    first = await browser.get("/sign-in")
    assert "HttpOnly" in first.headers["set-cookie"]
    assert "SameSite=strict" in first.headers["set-cookie"]
    answer = await browser.post("/sign-in", data={"csrf_token": csrf_token(first.text), "role": "finance"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/periods"
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("ipshare_session="))
    assert "HttpOnly" in session
    assert "SameSite=strict" in session
    token = session.split(";")[0].split("=", 1)[1]
    assert read_token(ConsoleSettings(jwt_secret=SECRET), token).role is Role.FINANCE


async def test_outside_development_mode_nobody_signs_in_as_anyone(services: Services) -> None:
    app = create_app(ConsoleSettings(jwt_secret=SECRET, ipshare_dev_mode=False), httpx.MockTransport(services))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console", headers=ENGLISH) as client,
    ):
        form = {"csrf_token": csrf_token((await client.get("/sign-in")).text), "role": "admin"}
        answer = await client.post("/sign-in", data=form)
    assert answer.status_code == 422
    assert "turned off" in answer.text
    assert "ipshare_session=ey" not in answer.headers.get("set-cookie", "")


async def test_a_service_token_in_the_cookie_is_no_session(browser: httpx.AsyncClient) -> None:
    token = issue_token(ConsoleSettings(jwt_secret=SECRET), Role.SERVICE, subject="commercialization")
    browser.cookies.set("ipshare_session", token)
    answer = await browser.get("/periods")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in")


async def test_a_form_without_its_token_is_refused(browser: httpx.AsyncClient) -> None:
    await browser.get("/sign-in")
    refused = await browser.post("/sign-in", data={"role": "finance"})
    assert refused.status_code == 403
    assert "ipshare_session" not in refused.headers.get("set-cookie", "")
    forged = await browser.post("/sign-in", data={"role": "finance", "csrf_token": "0" * 64})
    assert forged.status_code == 403


async def test_a_token_from_before_the_sign_in_is_worthless_after_it(browser: httpx.AsyncClient) -> None:
    old = csrf_token((await browser.get("/sign-in")).text)
    await browser.post("/sign-in", data={"csrf_token": old, "role": "finance"})
    assert (await browser.post("/sign-out", data={"csrf_token": old})).status_code == 403


async def test_a_bad_member_id_is_shown_beside_its_field_with_what_was_typed(browser: httpx.AsyncClient) -> None:
    token = csrf_token((await browser.get("/sign-in")).text)
    answer = await browser.post("/sign-in", data={"csrf_token": token, "role": "member", "member_id": "not-a-uuid"})
    assert answer.status_code == 422
    assert 'id="member_id-error"' in answer.text
    assert 'aria-describedby="member_id-error"' in answer.text
    assert 'value="not-a-uuid"' in answer.text


async def test_pages_send_a_visitor_without_a_session_to_the_sign_in(browser: httpx.AsyncClient) -> None:
    answer = await browser.get("/periods?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/periods%3Fx%3D1"
    assert "default-src 'self'" in answer.headers["content-security-policy"]


async def test_the_sign_in_sends_only_to_the_consoles_own_pages(browser: httpx.AsyncClient) -> None:
    token = csrf_token((await browser.get("/sign-in")).text)
    answer = await browser.post("/sign-in", data={"csrf_token": token, "role": "finance", "next": "//evil.example/"})
    assert answer.headers["location"] == "/periods"


async def test_an_api_error_on_a_registration_lands_beside_the_field_and_keeps_the_form(
    browser: httpx.AsyncClient, services: Services
) -> None:
    services.routes[("GET", f"/members/{MEMBER}")] = httpx.Response(200, json={"name": "华夏大学"})
    await sign_in(browser, "member", MEMBER)
    services.routes[("POST", "/assets")] = httpx.Response(
        422,
        json={
            "error": {
                "code": "invalid_request",
                "message": "invalid value for: owners.1.share_bps",
                "details": {"problems": [{"field": "owners.1.share_bps", "message": "shares must sum to 10,000"}]},
            }
        },
    )
    form = (await browser.get("/assets/new")).text
    key = re.compile(r'name="idempotency_key" value="([^"]+)"')
    data = {
        "csrf_token": csrf_token(form),
        "idempotency_key": key.search(form).group(1),
        "title": "激光熔覆 turbine",
        "kind": "invention_patent",
        "jurisdiction": "CN",
        "owners.0.member_id": MEMBER,
        "owners.0.share": "60",
        "owners.1.member_id": str(uuid.uuid4()),
        "owners.1.share": "30",
        "inventors.0.researcher_id": str(uuid.uuid4()),
        "inventors.0.contribution": "100",
    }
    answer = await browser.post("/assets/new", data=data)
    assert answer.status_code == 422
    assert re.search(r'id="owners\.1\.share-error" role="alert">shares must sum to 10,000<', answer.text)
    assert 'value="激光熔覆 turbine"' in answer.text
    assert 'value="30"' in answer.text
    assert key.search(answer.text).group(1) != key.search(form).group(1)  # the corrected form is a new request
    sent = json.loads(services.requests[-1].content)
    assert [o["share_bps"] for o in sent["owners"]] == [6000, 3000]
    assert sent["registered_by"] == MEMBER


async def test_a_share_typed_wrong_is_caught_before_any_call(browser: httpx.AsyncClient, services: Services) -> None:
    services.routes[("GET", f"/members/{MEMBER}")] = httpx.Response(200, json={"name": "m"})
    await sign_in(browser, "member", MEMBER)
    data = {
        "csrf_token": csrf_token((await browser.get("/assets/new")).text),
        "title": "t",
        "owners.0.member_id": MEMBER,
        "owners.0.share": "sixty",
    }
    answer = await browser.post("/assets/new", data=data)
    assert answer.status_code == 422
    assert 'id="owners.0.share-error"' in answer.text
    assert not any(r.method == "POST" for r in services.requests)


async def test_the_409_naming_the_open_milestone_is_shown_as_a_clear_message(
    browser: httpx.AsyncClient, services: Services
) -> None:
    project = str(uuid.uuid4())
    services.routes[("GET", f"/seed-projects/{project}")] = httpx.Response(
        200,
        json={
            "seed_project_id": project,
            "title": "Pilot line",
            "spin_off_id": None,
            "team": "",
            "opened_on": "2026-04-15",
            "commitments": [],
            "committed": {"amount_minor": 100, "currency": "CNY", "formatted": ""},
            "released": {"amount_minor": 0, "currency": "CNY", "formatted": ""},
            "version": 3,
            "milestones": [
                {
                    "milestone_id": "m2",
                    "description": "series order",
                    "due_date": "2027-03-31",
                    "tranche": {"amount_minor": 100, "currency": "CNY", "formatted": ""},
                    "status": "approved",
                    "evidence": [],
                    "decided_on": None,
                    "rejection_reason": "",
                    "released_on": None,
                }
            ],
        },
    )
    services.routes[("POST", f"/seed-projects/{project}/milestones/m2/release")] = httpx.Response(
        409, json={"error": {"code": "conflict", "message": "milestone m1 'pilot line qualified' is still open"}}
    )
    await sign_in(browser, "finance")
    page = await browser.get(f"/seed-projects/{project}")
    answer = await browser.post(
        f"/seed-projects/{project}/milestones/m2/release", data={"csrf_token": csrf_token(page.text)}
    )
    assert answer.status_code == 409
    assert "Refused: milestone m1 &#39;pilot line qualified&#39; is still open" in answer.text


async def test_what_a_role_may_not_see_is_said_in_words(browser: httpx.AsyncClient, services: Services) -> None:
    services.routes[("GET", "/periods")] = httpx.Response(
        403, json={"error": {"code": "forbidden", "message": "only finance may read periods"}}
    )
    await sign_in(browser, "incubator")
    answer = await browser.get("/periods", headers={"Accept-Language": "en"})
    assert answer.status_code == 403
    assert "Not allowed for your role" in answer.text
    assert "only finance may read periods" in answer.text


async def test_the_language_switch_is_remembered(browser: httpx.AsyncClient, services: Services) -> None:
    services.routes[("GET", "/board")] = httpx.Response(200, json=[])
    await sign_in(browser, "incubator")
    board = await browser.get("/board", headers={"Accept-Language": "en"})
    assert "Seed-project board" in board.text
    switched = await browser.post(
        "/language", data={"csrf_token": csrf_token(board.text), "lang": "zh", "next": "/board"}
    )
    assert switched.headers["location"] == "/board"
    assert "种子项目看板" in (await browser.get("/board", headers={"Accept-Language": "en"})).text


async def test_a_refused_import_lists_every_bad_row_by_line(browser: httpx.AsyncClient, services: Services) -> None:
    services.routes[("POST", "/assets/imports")] = httpx.Response(422, json={"error": {
        "code": "invalid_rows", "message": "2 rows are invalid", "details": {"rows": [
            {"line": 3, "message": "unknown member", "details": {}},
            {"line": 7, "message": "shares sum to 9,000", "details": {}}]}}})  # fmt: skip
    await sign_in(browser, "admin")
    form = (await browser.get("/imports")).text
    answer = await browser.post(
        "/imports",
        data={"csrf_token": csrf_token(form)},
        files={"file": ("portfolio.csv", b"title,kind\n", "text/csv")},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 422
    assert "line 3: unknown member" in answer.text
    assert "line 7: shares sum to 9,000" in answer.text
    assert services.requests[-1].headers["Content-Type"] == "text/csv"
    assert services.requests[-1].content == b"title,kind\n"


async def test_closing_asks_for_the_periods_id_before_calling_the_service(
    browser: httpx.AsyncClient, services: Services
) -> None:
    services.routes[("POST", "/periods/2026/close")] = httpx.Response(200, json={"period_id": "2026"})
    await sign_in(browser, "finance")
    token = csrf_token((await browser.get("/sign-in")).text)
    refused = await browser.post("/periods/2026/close", data={"csrf_token": token, "confirm": "2025"},
                                 headers={"HX-Request": "true"})  # fmt: skip
    assert refused.status_code == 422
    assert "Type the period&#39;s id to confirm" in refused.text
    assert not any(r.method == "POST" for r in services.requests)
    closed = await browser.post("/periods/2026/close", data={"csrf_token": token, "confirm": "2026"},
                                headers={"HX-Request": "true"})  # fmt: skip
    assert closed.headers["HX-Redirect"] == "/periods/2026?closed=1"
    assert "Period 2026 is closed" in closed.text


async def test_the_history_of_an_aggregate_names_who_recorded_each_event(
    browser: httpx.AsyncClient, services: Services
) -> None:
    asset = str(uuid.uuid4())
    entry = {"position": 0, "aggregate_version": 1, "type": "ipshare.ipregistry.v1.AssetRegistered",
             "entry_hash": "ab" * 32, "inclusion_proof": None, "caused_by": None}  # fmt: skip
    services.routes[("GET", f"/audit/aggregates/{asset}/history")] = httpx.Response(200, json={
        "aggregate_id": asset, "checkpoint": None, "entries": [
            {**entry, "actor": None, "principal": f"member:{MEMBER}"},
            {**entry, "position": 4, "aggregate_version": 2, "principal": f"member:{MEMBER}",
             "actor": {"subject": "oidc|li-wei", "name": "Li Wei", "member_id": MEMBER, "role": "member"}},
            {**entry, "position": 9, "aggregate_version": 3, "principal": "service:ownership-transfers",
             "actor": {"subject": "ownership-transfers", "name": None, "member_id": None, "role": "service"},
             "caused_by": {"subject": "oidc|li-wei", "name": "Li Wei", "member_id": MEMBER, "role": "member"}},
        ]})  # fmt: skip
    await sign_in(browser, "auditor")
    page = await browser.get("/audit/history", params={"service": "ip-registry", "aggregate_id": asset})
    assert page.status_code == 200
    rows = page.text.split("<tr>")[2:]
    assert f"not recorded (before actors were kept): member:{MEMBER}" in rows[0]
    assert 'Li Wei <span class="muted">(oidc|li-wei)</span>' in rows[1]
    assert f"for member {MEMBER}" in rows[1]
    assert "ownership-transfers" in rows[2]
    assert "in reaction to Li Wei" in rows[2]


async def test_a_page_calls_the_services_inside_its_own_trace(browser: httpx.AsyncClient, services: Services) -> None:
    services.routes[("GET", f"/members/{MEMBER}")] = httpx.Response(200, json={"name": "华夏大学"})
    with record_spans() as spans:
        await sign_in(browser, "member", MEMBER)
    [called] = [r for r in services.requests if r.url.path == f"/members/{MEMBER}"]
    [signed_in] = [s for s in spans.get_finished_spans() if s.name == "POST /sign-in"]
    _, trace_id, parent_id, _ = called.headers["traceparent"].split("-")
    assert trace_id == format(signed_in.context.trace_id, "032x")
    assert parent_id == format(signed_in.context.span_id, "016x")


@pytest.mark.parametrize("role", ["finance", "auditor", "incubator"])
async def test_only_an_admin_gets_the_import_form(browser: httpx.AsyncClient, role: str) -> None:
    await sign_in(browser, role)
    answer = await browser.get("/imports", headers={"Accept-Language": "en"})
    assert answer.status_code == 403
    assert "Only an administrator imports a portfolio." in answer.text
