"""The HTTP API as the service builds it, over the in-memory event store: who may do what, and bad input.

Idempotency keys live in PostgreSQL, so the API gets a fresh database for them; the
events stay in memory. A member that is not an owner gets a 403 for an asset that
exists (a 404 only for one that does not), on reads and writes alike.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncEngine

from ip_registry.application import IpRegistryApplication
from ip_registry.csv_import import COLUMNS
from ip_registry.domain.commands import AssetRegistration, InventorClaim
from ip_registry.domain.identifiers import cn_application_check_character
from ip_registry.domain.values import StrategicReserve
from ip_registry.entrypoints.http import ROUTERS, create_http
from ip_registry.entrypoints.main import IpRegistrySettings, spec
from ip_registry.migrations import schema as ip_registry_schema
from ipshare.auth import Role, issue_token
from ipshare.eventstore import persistence_env
from ipshare.runtime import Runtime
from ipshare_devtools.testing.tables import migrated_engine

from .conftest import ADMIN, Center, as_member, credit_code

SETTINGS = IpRegistrySettings(jwt_secret="ip-registry-http-api-test-secret-012345")
Client = httpx.AsyncClient


@pytest.fixture
def event_store_env() -> dict[str, str]:
    return persistence_env(None)


class InMemoryRuntime(Runtime[IpRegistryApplication, IpRegistrySettings]):
    """The service's runtime with its application and idempotency database handed in, not started."""

    def __init__(self, app: IpRegistryApplication, engine: AsyncEngine) -> None:
        super().__init__(spec(SETTINGS))
        self._app, self._engine = app, engine


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(fresh_database, ip_registry_schema)
    yield engine
    await engine.dispose()


@pytest.fixture
async def client(center: Center, engine: AsyncEngine) -> AsyncIterator[Client]:
    api = create_http(InMemoryRuntime(center.app, engine))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as c:
        yield c


def bearer(role: Role, member_id: uuid.UUID | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role, member_id)}"}


def admin() -> dict[str, str]:
    return bearer(Role.ADMIN)


def member(member_id: uuid.UUID) -> dict[str, str]:
    return bearer(Role.MEMBER, member_id)


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code
    return body


def asset_body(c: Center, **changes: Any) -> dict[str, Any]:
    """uni registers, co-owned with corp (pending until corp confirms)."""
    body: dict[str, Any] = {
        "title": "Laser sintering of titanium lattices", "kind": "invention_patent", "jurisdiction": "CN",
        "registered_by": str(c.uni),
        "owners": [{"member_id": str(c.uni), "share_bps": 6000}, {"member_id": str(c.corp), "share_bps": 4000}],
        "inventors": [{"researcher_id": str(c.alice), "contribution_bps": 7000},
                      {"researcher_id": str(c.bob), "contribution_bps": 3000}],
        "application_number": "202110012345.9", "status": "filed", "filing_date": "2021-03-01",
        "disclosure_date": "2021-01-15", "technology_field": "additive manufacturing",
    }  # fmt: skip
    return {**body, **changes}


async def register(client: Client, c: Center, **changes: Any) -> str:
    response = await client.post("/assets", json=asset_body(c, **changes), headers=member(c.uni))
    assert response.status_code == 201, response.text
    asset_id: str = response.json()["id"]
    return asset_id


@pytest.fixture
async def pending(client: Client, center: Center) -> str:
    """An asset uni registered naming corp as co-owner; corp has not answered."""
    return await register(client, center)


# ---- authentication ------------------------------------------------------------------


async def test_every_route_needs_a_valid_bearer_token(client: Client) -> None:
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    for route in routes:
        path = route.path.format(**{p: uuid.uuid4() for p in route.param_convertors})
        for method, headers in itertools.product(route.methods, ({}, {"Authorization": "Bearer not-a-token"})):
            response = await client.request(method, path, json={}, headers=headers)
            assert response.status_code == 401, f"{method} {route.path}: {response.status_code}"
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"
    assert len(routes) >= 20


# ---- membership: admins only -------------------------------------------------------

NOT_ADMINS = [Role.MEMBER, Role.AUDITOR, Role.FINANCE, Role.SERVICE, Role.INCUBATOR]


def as_role(role: Role, c: Center) -> dict[str, str]:
    return bearer(role, c.uni if role is Role.MEMBER else None)


@pytest.mark.parametrize("role", NOT_ADMINS)
async def test_only_admins_admit_suspend_and_reinstate_members(client: Client, center: Center, role: Role) -> None:
    admission = {"name": "New Lab", "kind": "research_institute", "state_established": True,
                 "credit_code": credit_code(50)}  # fmt: skip
    headers = as_role(role, center)
    error(await client.post("/members", json=admission, headers=headers), 403, "forbidden")
    error(
        await client.post(f"/members/{center.uni}/suspension", json={"reason": "x"}, headers=headers), 403, "forbidden"
    )
    await client.post(f"/members/{center.corp}/suspension", json={"reason": "dues"}, headers=admin())
    reinstate = await client.post(f"/members/{center.corp}/reinstatement", json={"reason": "x"}, headers=headers)
    refusal = "act for no person" if role is Role.SERVICE else "only an admin"  # a service's token acts for no one
    assert refusal in error(reinstate, 403, "forbidden")["message"]
    assert (await client.get(f"/members/{center.corp}", headers=admin())).json()["suspended"] is True


async def test_admins_admit_suspend_and_reinstate(client: Client, center: Center) -> None:
    admission = {"name": "New Lab", "kind": "research_institute", "state_established": True,
                 "credit_code": credit_code(50)}  # fmt: skip
    created = await client.post("/members", json=admission, headers=admin())
    assert created.status_code == 201
    member_id = created.json()["id"]
    assert created.headers["location"] == f"/members/{member_id}"
    suspended = await client.post(f"/members/{member_id}/suspension", json={"reason": "dues"}, headers=admin())
    assert suspended.json()["suspended"] is True
    reinstated = await client.post(f"/members/{member_id}/reinstatement", json={"reason": "paid"}, headers=admin())
    assert reinstated.json()["suspended"] is False
    again = await client.post("/members", json=admission, headers=admin())
    error(again, 409, "conflict")


# ---- registration and co-ownership: members act for themselves --------------------


async def test_a_member_registers_assets_only_naming_itself_as_an_owner(client: Client, center: Center) -> None:
    response = await client.post("/assets", json=asset_body(center), headers=member(center.uni))
    assert response.status_code == 201
    assert response.headers["location"] == f"/assets/{response.json()['id']}"
    assert response.headers["etag"] == '"1"'

    someone_else = await client.post("/assets", json=asset_body(center, application_number="202110012343.X"),
                                     headers=member(center.corp))  # fmt: skip
    assert "own name" in error(someone_else, 403, "forbidden")["message"]
    not_owner = asset_body(center, application_number="202110012343.X",
                           owners=[{"member_id": str(center.corp), "share_bps": 10_000}])  # fmt: skip
    response = await client.post("/assets", json=not_owner, headers=member(center.uni))
    assert "naming itself as an owner" in error(response, 403, "forbidden")["message"]


async def test_a_member_confirms_or_declines_only_its_own_co_ownership(
    client: Client, center: Center, pending: str
) -> None:
    confirm, decline = f"/assets/{pending}/ownership/confirmations", f"/assets/{pending}/ownership/declines"
    for_corp = {"member_id": str(center.corp), "reason": "no"}
    error(await client.post(confirm, json=for_corp, headers=member(center.uni)), 403, "forbidden")
    error(await client.post(decline, json=for_corp, headers=member(center.uni)), 403, "forbidden")
    error(await client.post(confirm, json=for_corp, headers=admin()), 403, "forbidden")  # not even an admin
    lab = {"member_id": str(center.lab)}
    error(await client.post(confirm, json=lab, headers=member(center.lab)), 403, "forbidden")  # not named

    confirmed = await client.post(confirm, json={"member_id": str(center.corp)}, headers=member(center.corp))
    assert confirmed.status_code == 200
    assert confirmed.json()["ownership_state"] == "effective"
    assert confirmed.headers["etag"] == f'"{confirmed.json()["version"]}"'


async def test_a_co_owner_declines_with_a_reason(client: Client, center: Center, pending: str) -> None:
    decline = f"/assets/{pending}/ownership/declines"
    no_reason = await client.post(decline, json={"member_id": str(center.corp)}, headers=member(center.corp))
    assert "needs a reason" in error(no_reason, 422, "rule_violated")["message"]
    declined = await client.post(decline, json={"member_id": str(center.corp), "reason": "we paid for it"},
                                 headers=member(center.corp))  # fmt: skip
    assert declined.json()["ownership_state"] == "declined"
    assert declined.json()["pending_ownership"]["decline_reason"] == "we paid for it"


# ---- reading: owners and co-owners, or the readers of everything -------------------


async def test_a_member_reads_only_assets_it_owns_or_is_named_to_own(
    client: Client, center: Center, pending: str
) -> None:
    for path in (f"/assets/{pending}", f"/assets/{pending}/ownership?as_of=2024-01-01",
                 f"/assets/{pending}/ownership/history"):  # fmt: skip
        assert (await client.get(path, headers=member(center.uni))).status_code == 200
        assert (await client.get(path, headers=member(center.corp))).status_code == 200  # named, not yet confirmed
        error(await client.get(path, headers=member(center.lab)), 403, "forbidden")
    error(await client.get(f"/assets/{uuid.uuid4()}", headers=member(center.lab)), 404, "not_found")

    assert (await client.get("/assets", headers=member(center.lab))).json()["items"] == []
    listed = (await client.get("/assets", headers=member(center.corp))).json()["items"]
    assert [a["asset_id"] for a in listed] == [pending]
    error(await client.get(f"/assets?owner={center.uni}", headers=member(center.lab)), 403, "forbidden")
    error(await client.get(f"/members/{center.uni}", headers=member(center.lab)), 403, "forbidden")
    error(await client.get(f"/researchers/{center.alice}", headers=member(center.lab)), 403, "forbidden")
    assert (await client.get(f"/members/{center.lab}", headers=member(center.lab))).status_code == 200


async def test_a_member_that_does_not_own_an_asset_cannot_change_it(
    client: Client, center: Center, pending: str
) -> None:
    for action, body in asset_writes(center).items():
        response = await client.post(f"/assets/{pending}/{action}", json=body, headers=member(center.lab))
        error(response, 403, "forbidden")


def asset_writes(c: Center) -> dict[str, dict[str, Any]]:
    """A valid body for every write on an asset, so only the caller's role can fail it."""
    return {
        "ownership/confirmations": {"member_id": str(c.corp)},
        "ownership/declines": {"member_id": str(c.corp), "reason": "no"},
        "ownership/proposals": {"owners": [{"member_id": str(c.uni), "share_bps": 10_000}]},
        "transfers": {"from_member_id": str(c.uni), "to_member_id": str(c.lab), "share_bps": 100,
                      "effective_date": "2024-06-01"},
        "filing": {"application_number": "202110012345.9", "filing_date": "2021-03-01"},
        "publication": {"publication_number": "CN113000000A", "publication_date": "2021-09-01"},
        "grant": {"grant_number": "ZL202110012345.9", "grant_date": "2023-02-01"},
        "end": {"status": "lapsed", "effective_date": "2024-05-01"},
        "strategic-reserve": {"strategic_reserve": "key_core"},
        "inventor-corrections": {"inventors": [{"researcher_id": str(c.alice), "contribution_bps": 10_000}],
                                 "reason": "typo"},
        "costs": {"kind": "annuity", "amount": {"amount_minor": 90_000, "currency": "CNY"}, "paid_by": str(c.uni),
                  "effective_date": "2024-03-01"},
    }  # fmt: skip


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.FINANCE])
async def test_auditors_and_finance_read_everything(client: Client, center: Center, pending: str, role: Role) -> None:
    headers = bearer(role)
    other = await register(client, center, application_number="202110012343.X",
                           owners=[{"member_id": str(center.uni), "share_bps": 10_000}])  # fmt: skip
    for path in (f"/assets/{pending}", f"/assets/{pending}/ownership?as_of=2024-01-01",
                 f"/assets/{pending}/ownership/history", f"/members/{center.lab}", f"/researchers/{center.bob}",
                 f"/assets?owner={center.corp}"):  # fmt: skip
        assert (await client.get(path, headers=headers)).status_code == 200, path
    listed = (await client.get("/assets", headers=headers)).json()["items"]
    assert [a["asset_id"] for a in listed] == [pending, other]


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.FINANCE])
async def test_auditors_and_finance_cannot_write(client: Client, center: Center, pending: str, role: Role) -> None:
    headers = bearer(role)
    for action, body in asset_writes(center).items():
        response = await client.post(f"/assets/{pending}/{action}", json=body, headers=headers)
        error(response, 403, "forbidden")
    writes: list[tuple[str, dict[str, Any]]] = [
        ("/assets", asset_body(center, application_number="202110012343.X")),
        ("/researchers", {"name": "Dan", "member_id": str(center.uni)}),
        (f"/researchers/{center.alice}/affiliations", {"member_id": str(center.lab), "effective_date": "2024-01-01"}),
        ("/members", {"name": "X", "kind": "other", "state_established": False, "credit_code": credit_code(51)}),
        (f"/members/{center.lab}/suspension", {"reason": "x"}),
    ]
    for path, body in writes:
        error(await client.post(path, json=body, headers=headers), 403, "forbidden")
    csv = await client.post("/assets/imports", content="title\n", headers={**headers, "Content-Type": "text/csv"})
    error(csv, 403, "forbidden")
    assert len((await client.get("/assets", headers=admin())).json()["items"]) == 1  # nothing was written


async def test_a_researcher_moves_only_with_the_consent_of_the_member_it_leaves(client: Client, center: Center) -> None:
    taken = {"member_id": str(center.corp), "effective_date": "2020-06-01"}  # backdated, to corp itself
    error(await client.post(f"/researchers/{center.alice}/affiliations", json=taken, headers=member(center.corp)),
          403, "forbidden")  # fmt: skip
    alice = await client.get(f"/researchers/{center.alice}", headers=member(center.uni))
    assert alice.status_code == 200, alice.text  # uni still reads its own researcher
    assert (await client.get(f"/researchers/{center.alice}", headers=member(center.corp))).status_code == 403
    moved = {"member_id": str(center.corp), "effective_date": "2024-05-01"}
    answer = await client.post(f"/researchers/{center.alice}/affiliations", json=moved, headers=member(center.uni))
    assert answer.status_code == 200, answer.text
    back = {"member_id": str(center.uni), "effective_date": "2024-05-20"}
    error(await client.post(f"/researchers/{center.alice}/affiliations", json=back, headers=member(center.uni)),
          403, "forbidden")  # fmt: skip
    assert (
        await client.post(f"/researchers/{center.alice}/affiliations", json=back, headers=admin())
    ).status_code == 200


# ---- malformed input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("202110012345.8", "wrong check character in CN application number: expected 9, got 8"),
        ("20211001234.9", "12 digits, a dot and a check character"),
        ("202120012345.4", "is not for a invention_patent"),
    ],
)
async def test_a_bad_cn_application_number_is_a_422_saying_why(
    client: Client, center: Center, number: str, reason: str
) -> None:
    response = await client.post("/assets", json=asset_body(center, application_number=number),
                                 headers=member(center.uni))  # fmt: skip
    body = error(response, 422, "rule_violated")
    assert reason in body["message"]
    assert body["details"]["application_number"] == number


async def test_shares_must_sum_to_10000_basis_points(client: Client, center: Center) -> None:
    owners = [{"member_id": str(center.uni), "share_bps": 6000}, {"member_id": str(center.corp), "share_bps": 3000}]
    response = await client.post("/assets", json=asset_body(center, owners=owners), headers=member(center.uni))
    body = error(response, 422, "rule_violated")
    assert body["message"] == "owner shares must sum to 10000 basis points, not 9000"
    assert body["details"] == {"total": 9000}
    too_big = [{"member_id": str(center.uni), "share_bps": 10_001}]
    response = await client.post("/assets", json=asset_body(center, owners=too_big), headers=member(center.uni))
    assert error(response, 422, "invalid_request")["details"]["problems"][0]["field"] == "owners.0.share_bps"


async def test_an_unknown_member_named_as_co_owner_is_a_422_naming_it(client: Client, center: Center) -> None:
    stranger = str(uuid.uuid4())
    owners = [{"member_id": str(center.uni), "share_bps": 5000}, {"member_id": stranger, "share_bps": 5000}]
    response = await client.post("/assets", json=asset_body(center, owners=owners), headers=member(center.uni))
    body = error(response, 422, "rule_violated")
    assert body["message"] == f"not admitted members: {stranger}"
    assert body["details"]["unknown_members"] == [stranger]


async def test_malformed_requests_name_the_field(client: Client, center: Center) -> None:
    unknown_field = await client.post("/assets", json=asset_body(center, colour="red"), headers=member(center.uni))
    assert "colour" in error(unknown_field, 422, "invalid_request")["message"]
    bad_id = await client.get("/assets/not-a-uuid", headers=admin())
    assert "asset_id" in error(bad_id, 422, "invalid_request")["message"]
    bad_date = await client.get(f"/assets/{uuid.uuid4()}/ownership?as_of=yesterday", headers=admin())
    assert "as_of" in error(bad_date, 422, "invalid_request")["message"]
    not_json = await client.post(
        "/assets", content=b"{", headers={**member(center.uni), "Content-Type": "application/json"}
    )
    error(not_json, 422, "invalid_request")


async def test_a_stale_if_match_is_412_and_the_current_one_goes_through(
    client: Client, center: Center, pending: str
) -> None:
    path, body = f"/assets/{pending}/ownership/confirmations", {"member_id": str(center.corp)}
    current = (await client.get(f"/assets/{pending}", headers=member(center.corp))).headers["etag"]
    stale = await client.post(path, json=body, headers={**member(center.corp), "If-Match": '"0"'})
    assert error(stale, 412, "precondition_failed")["details"] == {"current_version": 1}
    garbage = await client.post(path, json=body, headers={**member(center.corp), "If-Match": "yesterday"})
    error(garbage, 412, "precondition_failed")
    done = await client.post(path, json=body, headers={**member(center.corp), "If-Match": current})
    assert done.status_code == 200
    assert done.headers["etag"] != current
    again = await client.post(f"/assets/{pending}/strategic-reserve", json={"strategic_reserve": "key_core"},
                              headers={**member(center.uni), "If-Match": current})  # fmt: skip
    error(again, 412, "precondition_failed")


async def test_an_idempotency_key_replays_the_first_response_and_refuses_another_body(
    client: Client, center: Center
) -> None:
    headers = {**member(center.uni), "Idempotency-Key": "register-1"}
    first = await client.post("/assets", json=asset_body(center), headers=headers)
    again = await client.post("/assets", json=asset_body(center), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    other = await client.post("/assets", json=asset_body(center, title="Another"), headers=headers)
    error(other, 409, "idempotency_key_reused")
    without_key = await client.post("/assets", json=asset_body(center), headers=member(center.uni))
    error(without_key, 409, "conflict")  # the same application: only the key made the retry safe
    assert len((await client.get("/assets", headers=admin())).json()["items"]) == 1
    too_long = await client.post("/assets", json=asset_body(center), headers={**headers, "Idempotency-Key": "k" * 201})
    error(too_long, 422, "invalid_request")


# ---- lists -----------------------------------------------------------------------------


async def test_lists_page_with_next_cursor_and_a_link(client: Client, center: Center) -> None:
    ids = [await register(client, center, application_number=n, owners=[{"member_id": str(center.uni),
                                                                         "share_bps": 10_000}])
           for n in ("202110012345.9", "202110012343.X", "202110012347.8")]  # fmt: skip
    first = await client.get("/assets?limit=2&jurisdiction=cn", headers=admin())
    page = first.json()
    assert [a["asset_id"] for a in page["items"]] == ids[:2]
    assert first.headers["link"] == (
        f'<http://test/assets?limit=2&jurisdiction=cn&cursor={page["next_cursor"]}>; rel="next"'
    )
    last = await client.get("/assets", params={"limit": 2, "jurisdiction": "cn", "cursor": page["next_cursor"]},
                            headers=admin())  # fmt: skip
    assert ([a["asset_id"] for a in last.json()["items"]], last.json()["next_cursor"]) == (ids[2:], None)
    assert "link" not in last.headers


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("status=pending", "status"),
        ("kind=trade_secret", "kind"),
        ("jurisdiction=China", "jurisdiction"),
        ("strategic=yes", "strategic"),
        ("owner=nobody", "owner"),
        ("colour=red", "colour"),
    ],
)
async def test_a_bad_list_parameter_is_a_422_naming_it(client: Client, query: str, field: str) -> None:
    body = error(await client.get(f"/assets?{query}", headers=admin()), 422, "invalid_request")
    assert field in body["message"]


@pytest.mark.parametrize(
    ("query", "field", "allowed"),
    [("status=pending", "status", "'disclosed'"), ("kind=trade_secret", "kind", "'know_how'"),
     ("strategic=yes", "strategic", "'any'")],
)  # fmt: skip
async def test_a_bad_list_choice_names_its_parameter_and_the_values_it_takes(
    client: Client, query: str, field: str, allowed: str
) -> None:
    body = error(await client.get(f"/assets?{query}", headers=admin()), 422, "invalid_request")
    [problem] = body["details"]["problems"]
    assert problem["field"] == field
    assert allowed in problem["message"]


async def test_a_list_choice_is_read_in_any_case_and_a_blank_one_is_no_filter(client: Client, center: Center) -> None:
    asset_id = await register(client, center)  # a filed invention patent, untagged
    for query in ("status=FILED", "status=%20filed%20", "kind=Invention_Patent", "strategic=None", "status=",
                  "kind=&strategic=%20"):  # fmt: skip
        listed = (await client.get(f"/assets?{query}", headers=admin())).json()["items"]
        assert [a["asset_id"] for a in listed] == [asset_id], query
    assert (await client.get("/assets?status=granted", headers=admin())).json()["items"] == []


# ---- a member's portfolio ------------------------------------------------------------------


def cn(year: int, type_digit: int, serial: int) -> str:
    digits = f"{year}{type_digit}{serial:07d}"
    return f"{digits}.{cn_application_check_character(digits)}"


def owned(c: Center, owners: dict[uuid.UUID, int], **fields: Any) -> AssetRegistration:
    registered_by = next(iter(owners))
    inventor = {c.uni: c.alice, c.corp: c.bob, c.lab: c.carol}[registered_by]
    return AssetRegistration(
        title=fields.pop("title", "An invention"), jurisdiction="CN", registered_by=registered_by, owners=owners,
        inventors=[InventorClaim(inventor, 10_000)], **fields,
    )  # fmt: skip


@pytest.fixture
def portfolio(center: Center) -> Center:
    """Uni's assets, by hand (the center's day is 2024-06-01):

    A  invention patent  disclosed 2020-11, filed 2021-03, granted 2023-05; all of it to lab from 2024-01-01
    B  utility model     disclosed 2021-06, filed 2021-07, granted 2022-01, lapsed 2023-08-01
    C  invention patent  disclosed 2022-02, filed 2022-04; uni 60% / corp 40% (confirmed) from 2022-04-01
    D  know-how          disclosed 2023-09
    E  design            corp's alone: disclosed 2022-05, filed 2022-06, granted 2023-02
    F  invention patent  uni names lab as co-owner in 2022; lab never confirms: no one's yet

    B's and D's ownership took effect on the day they were registered, so on earlier days
    they count for the owners they were registered with.
    """
    app, uni = center.app, {center.uni: 10_000}
    a = app.register_asset(ADMIN, owned(
        center, uni, kind="invention_patent", application_number=cn(2021, 1, 1), status="granted",
        disclosure_date=date(2020, 11, 2), filing_date=date(2021, 3, 1), grant_number="ZL1",
        grant_date=date(2023, 5, 10), ownership_effective_date=date(2021, 3, 1)))  # fmt: skip
    b = app.register_asset(ADMIN, owned(
        center, uni, kind="utility_model", application_number=cn(2021, 2, 2), status="granted",
        disclosure_date=date(2021, 6, 1), filing_date=date(2021, 7, 1), grant_number="ZL2",
        grant_date=date(2022, 1, 20)))  # fmt: skip
    app.end_asset(ADMIN, b, "lapsed", date(2023, 8, 1), "annuity unpaid")
    c = app.register_asset(ADMIN, owned(
        center, {center.uni: 6000, center.corp: 4000}, kind="invention_patent", application_number=cn(2022, 1, 3),
        status="filed", disclosure_date=date(2022, 2, 1), filing_date=date(2022, 4, 1),
        ownership_effective_date=date(2022, 4, 1)))  # fmt: skip
    app.confirm_co_ownership(as_member(center.corp), c, center.corp)
    app.register_asset(ADMIN, owned(center, uni, kind="know_how", disclosure_date=date(2023, 9, 1)))
    app.register_asset(ADMIN, owned(
        center, {center.corp: 10_000}, kind="design", application_number=cn(2022, 3, 5), status="granted",
        disclosure_date=date(2022, 5, 1), filing_date=date(2022, 6, 1), grant_number="ZL5",
        grant_date=date(2023, 2, 1)))  # fmt: skip
    app.register_asset(ADMIN, owned(
        center, {center.uni: 5000, center.lab: 5000}, kind="invention_patent", application_number=cn(2022, 1, 6),
        status="filed", disclosure_date=date(2022, 3, 1), filing_date=date(2022, 3, 2)))  # fmt: skip
    app.transfer_shares(ADMIN, a, from_member_id=center.uni, to_member_id=center.lab, share_bps=10_000,
                        effective_date=date(2024, 1, 1))  # fmt: skip
    return center


def figures(body: dict[str, Any]) -> dict[int, tuple[int, int, int, int]]:
    """year: (disclosures, filings, grants, active)"""
    return {y["year"]: (y["disclosures"], y["filings"], y["grants"], y["active"]) for y in body["years"]}


def by_kind(body: dict[str, Any], year: int) -> dict[str, tuple[int, int, int, int]]:
    (entry,) = [y for y in body["years"] if y["year"] == year]
    return {k["kind"]: (k["disclosures"], k["filings"], k["grants"], k["active"]) for k in entry["by_kind"]}


async def test_a_members_portfolio_as_of_the_end_of_2023(client: Client, portfolio: Center) -> None:
    response = await client.get(f"/members/{portfolio.uni}/portfolio?as_of=2023-12-31", headers=member(portfolio.uni))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["member_id"], body["as_of"]) == (str(portfolio.uni), "2023-12-31")
    assert figures(body) == {  # A, B, C, D (A was still uni's; F is no one's yet)
        2020: (1, 0, 0, 1),  # A disclosed
        2021: (1, 2, 0, 2),  # B disclosed; A and B filed
        2022: (1, 1, 1, 3),  # C disclosed and filed; B granted; A, B, C live
        2023: (1, 0, 1, 3),  # D disclosed; A granted; B lapsed in August: A, C, D live
    }
    assert by_kind(body, 2022) == {"invention_patent": (1, 1, 0, 2), "utility_model": (0, 0, 1, 1)}
    assert by_kind(body, 2023) == {"invention_patent": (0, 0, 1, 2), "know_how": (1, 0, 0, 1)}


async def test_a_members_portfolio_today_leaves_out_what_it_sold(client: Client, portfolio: Center) -> None:
    body = (await client.get(f"/members/{portfolio.uni}/portfolio", headers=member(portfolio.uni))).json()
    assert body["as_of"] == "2024-06-01"
    assert figures(body) == {  # B, C, D: A is lab's since 2024-01-01
        2021: (1, 1, 0, 1),
        2022: (1, 1, 1, 2),
        2023: (1, 0, 0, 2),
        2024: (0, 0, 0, 2),  # C and D live on 2024-06-01
    }
    lab = (await client.get(f"/members/{portfolio.lab}/portfolio", headers=member(portfolio.lab))).json()
    assert figures(lab) == {2020: (1, 0, 0, 1), 2021: (0, 1, 0, 1), 2022: (0, 0, 0, 1), 2023: (0, 0, 1, 1),
                            2024: (0, 0, 0, 1)}  # fmt: skip
    corp = (await client.get(f"/members/{portfolio.corp}/portfolio", headers=member(portfolio.corp))).json()
    assert by_kind(corp, 2022) == {"design": (1, 1, 0, 1), "invention_patent": (1, 1, 0, 1)}  # E, and C co-owned
    assert by_kind(corp, 2023) == {"design": (0, 0, 1, 1), "invention_patent": (0, 0, 0, 1)}


async def test_a_member_with_no_assets_has_an_empty_portfolio(client: Client, center: Center) -> None:
    body = (await client.get(f"/members/{center.lab}/portfolio", headers=member(center.lab))).json()
    assert body["years"] == []


@pytest.mark.parametrize("role", [Role.FINANCE, Role.AUDITOR, Role.ADMIN])
async def test_finance_auditors_and_admins_read_any_members_portfolio(
    client: Client, portfolio: Center, role: Role
) -> None:
    for member_id in (portfolio.uni, portfolio.corp, portfolio.lab):
        response = await client.get(f"/members/{member_id}/portfolio?as_of=2023-12-31", headers=bearer(role))
        assert response.status_code == 200, response.text
    uni = (await client.get(f"/members/{portfolio.uni}/portfolio?as_of=2023-12-31", headers=bearer(role))).json()
    assert figures(uni)[2023] == (1, 0, 1, 3)


async def test_a_member_reads_only_its_own_portfolio(client: Client, portfolio: Center) -> None:
    body = error(await client.get(f"/members/{portfolio.corp}/portfolio", headers=member(portfolio.uni)),
                 403, "forbidden")  # fmt: skip
    assert body["details"] == {"member_id": str(portfolio.corp)}
    for other in (Role.INCUBATOR,):
        error(await client.get(f"/members/{portfolio.uni}/portfolio", headers=bearer(other)), 403, "forbidden")


async def test_an_unknown_members_portfolio_is_a_404(client: Client, center: Center) -> None:
    nobody = uuid.uuid4()
    body = error(await client.get(f"/members/{nobody}/portfolio", headers=admin()), 404, "not_found")
    assert body["details"] == {"member_id": str(nobody)}
    error(await client.get(f"/members/{nobody}/portfolio", headers=member(nobody)), 404, "not_found")
    error(await client.get(f"/members/{nobody}/portfolio", headers=member(center.uni)), 403, "forbidden")


async def test_a_bad_as_of_is_a_422_naming_it(client: Client, center: Center) -> None:
    body = error(await client.get(f"/members/{center.uni}/portfolio?as_of=2023-13-01", headers=admin()),
                 422, "invalid_request")  # fmt: skip
    assert "as_of" in body["message"]


async def test_the_strategic_reserve_tag_is_documented_with_the_values_the_api_takes(client: Client) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    tags = [v.value for v in StrategicReserve if v.value]
    for schema, field in (("StrategicTag", "strategic_reserve"), ("RegisterAsset", "strategic_reserve"),
                          ("AssetOut", "strategic_reserve")):  # fmt: skip
        description = schemas[schema]["properties"][field]["description"]
        assert [word for word in description.replace("|", " ").split() if "_" in word] == tags, schema


# ---- CSV import ----------------------------------------------------------------------------------


async def test_a_file_sent_again_gets_the_first_answer_and_imports_nothing(client: Client, center: Center) -> None:
    header = ",".join(COLUMNS)
    disclosure = {"title": "Jig", "kind": "know_how", "jurisdiction": "CN", "disclosure_date": "2021-01-10",
                  "owners": f"{credit_code(1)}:10000", "inventors": f"Alice Wang@{credit_code(1)}:10000"}  # fmt: skip
    text = f"{header}\n{','.join(disclosure.get(c, '') for c in COLUMNS)}\n"
    headers = {**admin(), "Content-Type": "text/csv"}

    first = await client.post("/assets/imports", content=text, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["imported"] == 1
    assert "idempotent-replayed" not in first.headers
    again = await client.post("/assets/imports", content=text, headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    listed = (await client.get("/assets", headers=admin())).json()["items"]
    assert [a["asset_id"] for a in listed] == first.json()["asset_ids"]  # a know-how has no number: one, not two


# ---- bad input: a 422 naming the field, nothing stored -----------------------------------------


def problem_fields(response_body: dict[str, object]) -> set[str]:
    details = response_body["details"]
    assert isinstance(details, dict)
    return {p["field"] for p in details["problems"]}


async def test_an_unknown_currency_is_a_422_naming_the_field(client: Client, center: Center, pending: str) -> None:
    cost = {"kind": "annuity", "amount": {"amount_minor": 90_000, "currency": "XXX"}, "paid_by": str(center.uni),
            "effective_date": "2024-03-01"}  # fmt: skip
    response = await client.post(f"/assets/{pending}/costs", json=cost, headers=member(center.uni))
    assert problem_fields(error(response, 422, "invalid_request")) == {"amount.currency"}
    assert (await client.get(f"/assets/{pending}", headers=admin())).json()["costs"] == []


@pytest.mark.parametrize("day", [0, 1_700_000_000, "0", "2024-03-01T00:00:00", 2024.5])
async def test_a_number_is_not_a_date(client: Client, center: Center, pending: str, day: object) -> None:
    cost = {"kind": "annuity", "amount": {"amount_minor": 90_000, "currency": "CNY"}, "paid_by": str(center.uni),
            "effective_date": day}  # fmt: skip
    response = await client.post(f"/assets/{pending}/costs", json=cost, headers=member(center.uni))
    assert problem_fields(error(response, 422, "invalid_request")) == {"effective_date"}
    assert (await client.get(f"/assets/{pending}", headers=admin())).json()["costs"] == []
    as_of = await client.get(f"/assets/{pending}/ownership?as_of={day}", headers=admin())
    assert problem_fields(error(as_of, 422, "invalid_request")) == {"as_of"}


def one_row_portfolio(title: str, newline: str = "\n") -> str:
    row = {"title": title, "kind": "know_how", "jurisdiction": "CN", "disclosure_date": "2021-01-10",
           "owners": f"{credit_code(1)}:10000", "inventors": f"Alice Wang@{credit_code(1)}:10000"}  # fmt: skip
    return newline.join([",".join(COLUMNS), ",".join(row.get(c, "") for c in COLUMNS)]) + newline


@pytest.mark.parametrize(
    ("encoded", "title"),
    [
        (
            one_row_portfolio("Jig", "\r").encode(),
            "Jig",
        ),  # old Mac line ends: the csv module's "new-line in unquoted field"
        (one_row_portfolio("Jig", "\r\n").encode(), "Jig"),
        (one_row_portfolio("激光烧结夹具").encode("utf-8-sig"), "激光烧结夹具"),  # Excel's "CSV UTF-8"
        (one_row_portfolio("激光烧结夹具").encode("gb18030"), "激光烧结夹具"),  # a Chinese-locale Excel or WPS
        (one_row_portfolio("焊接夹具").encode("gbk"), "焊接夹具"),
    ],
    ids=["bare-cr", "crlf", "utf-8-bom", "gb18030", "gbk"],
)
async def test_a_portfolio_csv_is_read_in_the_encodings_and_line_ends_spreadsheets_write(
    client: Client, center: Center, encoded: bytes, title: str
) -> None:
    response = await client.post("/assets/imports", content=encoded, headers={**admin(), "Content-Type": "text/csv"})
    assert response.status_code == 201, response.text
    (asset_id,) = response.json()["asset_ids"]
    assert (await client.get(f"/assets/{asset_id}", headers=admin())).json()["title"] == title


async def test_a_file_that_is_not_text_is_a_422_and_imports_nothing(client: Client, center: Center) -> None:
    response = await client.post("/assets/imports", content=b"\xff\xfe\x00\x81\x30\x81",
                                 headers={**admin(), "Content-Type": "text/csv"})  # fmt: skip
    assert response.status_code == 422, response.text
    assert (await client.get("/assets", headers=admin())).json()["items"] == []


# ---- identifier checks -----------------------------------------------------------------------------


async def test_identifiers_are_checked_one_by_one_and_nothing_is_registered(client: Client, center: Center) -> None:
    before = (await client.get("/assets", headers=admin())).json()["items"]
    items = [
        {"application_number": "ZL 97101765.4", "kind": "invention_patent"},  # before 2003
        {"application_number": "97101765.5", "kind": "invention_patent"},
        {"application_number": "202110012345.9", "jurisdiction": "CN", "kind": "invention_patent"},
        {"credit_code": credit_code(7).lower()},
        {"credit_code": credit_code(7)[:17] + "0" if credit_code(7)[17] != "0" else credit_code(7)[:17] + "1"},
        {"application_number": "PCT/CN2021/012345", "jurisdiction": "PCT"},
    ]
    response = await client.post("/identifiers/checks", json={"items": items}, headers=member(center.uni))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["valid"], body["invalid"]) == (4, 2)
    assert [i["valid"] for i in body["items"]] == [True, False, True, True, False, True]
    assert [i["normalized"] for i in body["items"]][:4] == ["97101765.4", None, "202110012345.9", credit_code(7)]
    assert body["items"][1]["details"]["expected"] == "4"
    assert "check character" in body["items"][4]["message"]
    assert (await client.get("/assets", headers=admin())).json()["items"] == before


async def test_an_identifier_checks_kind_is_an_asset_kind_or_none(client: Client, center: Center) -> None:
    number = {"application_number": "202110012345.9"}
    unknown = await client.post("/identifiers/checks", json={"items": [number, {**number, "kind": "patent"}]},
                                headers=member(center.uni))  # fmt: skip
    blank = await client.post("/identifiers/checks", json={"items": [{**number, "kind": ""}]}, headers=admin())

    assert problem_fields(error(unknown, 422, "invalid_request")) == {"items.1.kind"}
    assert blank.json()["items"][0]["valid"] is True


async def test_an_identifier_check_names_one_identifier(client: Client, center: Center) -> None:
    both = {"credit_code": credit_code(7), "application_number": "97101765.4"}
    response = await client.post("/identifiers/checks", json={"items": [both, {}]}, headers=member(center.uni))
    messages = [i["message"] for i in response.json()["items"]]
    assert messages == ["name either a credit_code or an application_number"] * 2
    assert error(await client.post("/identifiers/checks", json={"items": []}, headers=admin()), 422, "invalid_request")
