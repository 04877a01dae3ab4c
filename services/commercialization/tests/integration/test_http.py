"""The HTTP API as the service builds it, over the real PostgreSQL event store.

One license goes from draft through consent to grant, then royalties, invoices,
a partial payment and receivables; beside it the guards: a conflicting exclusive
license, a stale If-Match, a replayed Idempotency-Key, and no 4xx leaving a trace.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from commercialization.application import CommercializationApplication
from commercialization.entrypoints.http import create_http
from commercialization.entrypoints.main import CommercializationSettings, spec
from commercialization.migrations import schema
from ipshare.audit.checkpoint import CheckpointSigner
from ipshare.audit_log import AuditLog, MemoryChainStore, signing_key
from ipshare.auth import Principal, Role, issue_token
from ipshare.eventstore import CommandContext, persistence_env
from ipshare.runtime import Runtime
from ipshare_devtools.testing.tables import migrated_engine

pytestmark = pytest.mark.integration

SETTINGS = CommercializationSettings(jwt_secret="commercialization-http-integration-secret-0123")
UNI, INST, STRANGER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
CO_OWNED, SOLE = uuid.uuid4(), uuid.uuid4()
Client = httpx.AsyncClient


class Owners:
    """The IP registry's answer, fixed: one asset co-owned 60/40, one owned by UNI alone."""

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        return {CO_OWNED: {UNI: 6000, INST: 4000}, SOLE: {UNI: 10_000}}.get(asset_id, {})


class HandedInRuntime(Runtime[CommercializationApplication, CommercializationSettings]):
    """The service's runtime with its application and database handed in, not started (no broker)."""

    def __init__(self, app: CommercializationApplication, engine: AsyncEngine) -> None:
        super().__init__(spec(SETTINGS))
        self._app, self._engine = app, engine
        signer = CheckpointSigner(self.spec.name, signing_key(SETTINGS, self.spec.name))
        self._audit = AuditLog(app, self.spec.catalog, MemoryChainStore(), signer)


@pytest.fixture
def app(fresh_database: str) -> Iterator[CommercializationApplication]:
    application = CommercializationApplication(persistence_env(fresh_database), Owners())
    yield application
    application.close()


@pytest.fixture
async def runtime(app: CommercializationApplication, fresh_database: str) -> AsyncIterator[HandedInRuntime]:
    engine = await migrated_engine(fresh_database, schema)
    yield HandedInRuntime(app, engine)
    await engine.dispose()


@pytest.fixture
async def client(runtime: HandedInRuntime) -> AsyncIterator[Client]:
    api = create_http(runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as c:
        yield c


def bearer(role: Role, member_id: uuid.UUID | None = None, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role, member_id)}", **headers}


def person(member_id: uuid.UUID, subject: str, name: str, **headers: str) -> dict[str, str]:
    """A member's token naming the person behind it, as the identity provider issues it."""
    token = issue_token(SETTINGS, Role.MEMBER, member_id, subject=subject, name=name)
    return {"Authorization": f"Bearer {token}", **headers}


def member(member_id: uuid.UUID, **headers: str) -> dict[str, str]:
    return bearer(Role.MEMBER, member_id, **headers)


FINANCE = bearer(Role.FINANCE)
AUDITOR = bearer(Role.AUDITOR)
TERMS = {
    "currency": "CNY",
    "upfront_fee": 100_000,
    "annual_maintenance_fee": 20_000,
    "running_royalty": {"CNY": [{"threshold": 0, "rate_bps": 500}]},
    "payment_days": 30,
}
EXCLUSIVE = {
    "licensee": "Acme Batteries", "asset_ids": [str(CO_OWNED)], "license_type": "exclusive", "terms": TERMS,
    "field_of_use": "batteries", "fields": ["H01M"], "territory": ["CN"], "start_date": "2025-01-01",
    "effective_date": "2025-01-01",
}  # fmt: skip


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code
    return body


def stored(app: CommercializationApplication) -> int:
    return app.recorder.max_notification_id() or 0


async def granted_exclusive(client: Client) -> str:
    """Drafted by UNI, submitted (UNI's consent), consented by INST: active from 2025-01-02."""
    draft = await client.post("/licenses", json={**EXCLUSIVE, "submit": False}, headers=member(UNI))
    license_id: str = ok(draft, 201)["license_id"]
    assert (draft.json()["status"], draft.headers["Location"]) == ("draft", f"/licenses/{license_id}")
    submitted = await client.post(
        f"/licenses/{license_id}/submission", json={"effective_date": "2025-01-01"},
        headers=member(UNI, **{"If-Match": draft.headers["ETag"]}),
    )  # fmt: skip
    assert ok(submitted)["status"] == "pending_consent"
    assert sorted(submitted.json()["required_consents"]) == sorted([str(UNI), str(INST)])
    consented = await client.post(
        f"/licenses/{license_id}/consents", json={"effective_date": "2025-01-02"},
        headers=member(INST, **{"If-Match": submitted.headers["ETag"]}),
    )  # fmt: skip
    assert (ok(consented)["status"], consented.json()["granted_on"]) == ("active", "2025-01-02")
    return license_id


async def test_the_audit_history_names_the_person_who_consented(client: Client, runtime: HandedInRuntime) -> None:
    draft = await client.post("/licenses", json={**EXCLUSIVE, "submit": False}, headers=member(UNI))
    license_id: str = ok(draft, 201)["license_id"]
    ok(await client.post(f"/licenses/{license_id}/submission", json={"effective_date": "2025-01-01"},
                         headers=person(UNI, "oidc|wang-fang", "Wang Fang")))  # fmt: skip
    ok(await client.post(f"/licenses/{license_id}/consents", json={"effective_date": "2025-01-02"},
                         headers=person(INST, "oidc|li-wei", "Li Wei")))  # fmt: skip
    await runtime.audit.advance()
    history = ok(await client.get(f"/audit/aggregates/{license_id}/history", headers=AUDITOR))
    drafted, *_ = history["entries"]
    assert drafted["actor"] == {"subject": str(UNI), "name": None, "member_id": str(UNI), "role": "member"}
    consents = [e for e in history["entries"] if e["type"].endswith(".LicenseConsentGiven")]
    assert [c["actor"]["name"] for c in consents] == ["Wang Fang", "Li Wei"]
    consent = consents[-1]
    assert consent["actor"] == {"subject": "oidc|li-wei", "name": "Li Wei", "member_id": str(INST), "role": "member"}
    assert (consent["principal"], consent["caused_by"]) == (f"member:{INST}", None)
    assert consent["position"] >= 0  # chained: the actor is in the bytes the log's hashes cover


async def test_an_exclusive_license_is_drafted_consented_and_granted(client: Client) -> None:
    license_id = await granted_exclusive(client)
    account = ok(await client.get(f"/accounts/{license_id}", headers=member(INST)))
    assert [(i["kind"], i["amount"], i["due_date"]) for i in account["invoices"]] == [
        ("upfront", 100_000, "2025-02-01")
    ]
    on_asset = ok(await client.get(f"/assets/{CO_OWNED}/licenses", headers=member(UNI)))
    assert [x["license_id"] for x in on_asset] == [license_id]
    assert (await client.get(f"/licenses/{license_id}", headers=member(STRANGER))).status_code == 403


async def test_an_amendment_of_a_co_owned_exclusive_license_waits_for_the_other_co_owner(client: Client) -> None:
    license_id = await granted_exclusive(client)
    amended = await client.post(
        f"/licenses/{license_id}/amendments", headers=member(UNI),
        json={"effective_date": "2025-06-01", "end_date": "2030-12-31", "note": "extension"},
    )  # fmt: skip
    proposed = ok(amended, 202)["proposed_amendment"]
    document = ok(await client.get("/openapi.json"))
    assert "202" in document["paths"]["/licenses/{license_id}/amendments"]["post"]["responses"]
    assert (proposed["end_date"], proposed["missing_consents"]) == ("2030-12-31", [str(INST)])
    assert amended.json()["amendments"] == []  # not in force yet
    consented = await client.post(
        f"/licenses/{license_id}/amendments/consents", json={"effective_date": "2025-05-20"},
        headers=member(INST, **{"If-Match": amended.headers["ETag"]}),
    )  # fmt: skip
    in_force = ok(consented)
    assert (in_force["end_date"], in_force["amendments"], in_force["proposed_amendment"]) == (
        "2030-12-31", ["2025-06-01"], None)  # fmt: skip
    narrower = {"effective_date": "2025-07-01", "field_of_use": "cells", "fields": ["H01M 10/052"]}
    ok(await client.post(f"/licenses/{license_id}/amendments", headers=member(UNI), json=narrower), 202)
    refused = await client.post(
        f"/licenses/{license_id}/amendments/refusals", headers=member(INST), json={"reason": "too narrow"}
    )
    assert (ok(refused)["proposed_amendment"], refused.json()["field_of_use"]) == (None, "batteries")
    error(await client.post(f"/licenses/{license_id}/amendments/consents", json={}, headers=member(INST)),
          409, "conflict")  # fmt: skip


async def test_a_conflicting_exclusive_license_is_a_409_naming_the_conflict_and_stores_nothing(
    client: Client, app: CommercializationApplication
) -> None:
    license_id = await granted_exclusive(client)
    before = stored(app)
    rival = {**EXCLUSIVE, "licensee": "Beta Cells", "territory": ["CN", "US"], "start_date": "2026-01-01"}
    body = error(await client.post("/licenses", json=rival, headers=member(INST)), 409, "conflict")
    assert body["details"]["conflicting_license_id"] == license_id
    assert body["details"]["conflicting_license_type"] == "exclusive"
    assert body["details"]["overlap"]["territory"] == ["CN"]
    assert body["details"]["overlap"]["field_of_use"] == "batteries"
    assert stored(app) == before
    elsewhere = {**rival, "territory": ["US"]}  # outside the exclusive territory it is fine
    assert ok(await client.post("/licenses", json=elsewhere, headers=member(INST)), 201)["status"] == "pending_consent"


async def test_a_territory_code_that_is_no_country_is_a_422_saying_why(
    client: Client, app: CommercializationApplication
) -> None:
    before = stored(app)
    worldwide_as_ww = {**EXCLUSIVE, "license_type": "non_exclusive", "territory": ["WW"]}
    body = error(await client.post("/licenses", json=worldwide_as_ww, headers=member(UNI)), 422, "rule_violated")
    assert "not an ISO 3166-1 alpha-2 country code: WW" in body["message"]
    assert "WORLDWIDE" in body["message"]
    assert body["details"] == {"codes": ["WW"]}
    assert stored(app) == before
    worldwide = {**worldwide_as_ww, "territory": ["WORLDWIDE"]}
    assert ok(await client.post("/licenses", json=worldwide, headers=member(UNI)), 201)["territory"] == ["WORLDWIDE"]


async def test_finance_records_the_expiry_of_a_license_whose_term_has_ended(client: Client) -> None:
    body = {**EXCLUSIVE, "license_type": "non_exclusive", "end_date": "2025-06-30"}
    license_id = ok(await client.post("/licenses", json=body, headers=member(UNI)), 201)["license_id"]
    expiry = f"/licenses/{license_id}/expiry"
    error(await client.post(expiry, json={}, headers=member(UNI)), 403, "forbidden")
    early = error(await client.post(expiry, json={"as_of": "2025-06-30"}, headers=FINANCE), 409, "conflict")
    assert early["message"] == "the term has not ended yet"
    expired = ok(await client.post(expiry, json={}, headers=FINANCE))  # today, long after the end date
    assert (expired["status"], expired["ended_on"]) == ("expired", "2025-06-30")
    shown = ok(await client.get(f"/licenses/{license_id}", headers=member(INST)))
    assert (shown["status"], shown["ended_on"]) == ("expired", "2025-06-30")
    error(await client.post(expiry, json={}, headers=FINANCE), 409, "conflict")  # once


async def test_royalties_invoices_a_partial_payment_and_receivables(client: Client) -> None:
    license_id = await granted_exclusive(client)
    report = {
        "period_start": "2025-01-01", "period_end": "2025-03-31", "effective_date": "2025-04-10",
        "lines": [{"product": "cell-A", "country": "CN", "currency": "CNY", "gross_sales": 1_000_000,
                   "field_of_use": "batteries"}],
    }  # fmt: skip
    answer = ok(await client.post(f"/licenses/{license_id}/royalty-reports", json=report, headers=FINANCE), 201)
    reports = ok(await client.get(f"/licenses/{license_id}/royalty-reports", headers=member(UNI)))
    assert [r["net_sales"] for r in reports] == [{"CNY": 1_000_000}]
    assert answer["id"] == answer["report_id"] == reports[0]["report_id"]
    [royalty] = answer["royalty"]
    assert (royalty["currency"], royalty["net_sales"], royalty["royalty"]) == ("CNY", 1_000_000, 50_000)
    assert royalty["tiers"] == [{"threshold": 0, "rate_bps": 500, "net_sales": 1_000_000, "royalty_exact": "50000"}]
    [booked] = answer["booked"]
    assert (booked["currency"], booked["amount"], booked["credit_note_id"]) == ("CNY", 50_000, None)
    assert (reports[0]["royalty"], reports[0]["booked"]) == (answer["royalty"], answer["booked"])
    maintenance = {"license_year": 1, "effective_date": "2025-01-02"}
    ok(await client.post(f"/licenses/{license_id}/maintenance-invoices", json=maintenance, headers=FINANCE), 201)
    payment = {"amount": 60_000, "currency": "CNY", "received_date": "2025-02-15", "payer_reference": "BANK-1"}
    ok(await client.post(f"/accounts/{license_id}/payments", json=payment, headers=FINANCE), 201)

    account = ok(await client.get(f"/accounts/{license_id}", headers=AUDITOR))
    assert account["invoices"][1]["invoice_id"] == booked["invoice_id"]
    assert [(i["kind"], i["amount"], i["paid"], i["open_amount"]) for i in account["invoices"]] == [
        ("upfront", 100_000, 60_000, 40_000),  # due 2025-02-01 and issued first: paid first
        ("royalty", 50_000, 0, 50_000),  # 5% of 1,000,000
        ("maintenance", 20_000, 0, 20_000),
    ]
    receivables = ok(await client.get("/receivables", params={"as_of": "2025-06-15"}, headers=AUDITOR))
    assert {(r["kind"], r["open_amount"], r["bucket"]) for r in receivables["lines"]} == {
        ("upfront", 40_000, "90+"),  # due 2025-02-01
        ("maintenance", 20_000, "90+"),  # due 2025-02-01
        ("royalty", 50_000, "30"),  # due 2025-05-10
    }
    assert receivables["totals"] == {"CNY": {"current": 0, "30": 50_000, "60": 0, "90+": 60_000}}
    before_payment = ok(await client.get("/receivables", params={"as_of": "2025-02-14"}, headers=AUDITOR))
    assert {(r["kind"], r["open_amount"]) for r in before_payment["lines"]} == {
        ("upfront", 100_000), ("maintenance", 20_000),  # the royalty is invoiced on 2025-04-10
    }  # fmt: skip
    nothing_known = {"as_of": "2025-06-15", "known_at": "2020-01-01T00:00:00Z"}
    assert ok(await client.get("/receivables", params=nothing_known, headers=AUDITOR))["lines"] == []
    error(await client.get("/receivables", headers=member(UNI)), 403, "forbidden")


async def test_a_stale_if_match_is_a_412_and_changes_nothing(client: Client, app: CommercializationApplication) -> None:
    license_id = await granted_exclusive(client)
    current = (await client.get(f"/licenses/{license_id}", headers=member(UNI))).headers["ETag"]
    before = stored(app)
    termination = {"reason": "breach", "effective_date": "2025-06-30"}
    stale = await client.post(
        f"/licenses/{license_id}/termination", json=termination, headers=member(UNI, **{"If-Match": '"1"'})
    )
    assert error(stale, 412, "precondition_failed")["details"]["current_version"] == int(current.strip('"'))
    assert stored(app) == before
    fresh = await client.post(
        f"/licenses/{license_id}/termination", json=termination, headers=member(UNI, **{"If-Match": current})
    )
    assert ok(fresh)["status"] == "terminated"
    assert fresh.headers["ETag"] != current


async def test_an_idempotency_key_replays_the_first_answer_and_records_once(
    client: Client, app: CommercializationApplication
) -> None:
    license_id = await granted_exclusive(client)
    payment = {"amount": 10_000, "currency": "CNY", "received_date": "2025-02-15", "payer_reference": "BANK-2"}
    keyed = {**FINANCE, "Idempotency-Key": "payment-bank-2"}
    first = await client.post(f"/accounts/{license_id}/payments", json=payment, headers=keyed)
    after_first = stored(app)
    again = await client.post(f"/accounts/{license_id}/payments", json=payment, headers=keyed)

    assert (ok(first, 201), again.status_code, again.headers["Idempotent-Replayed"]) == (again.json(), 201, "true")
    assert stored(app) == after_first
    account = ok(await client.get(f"/accounts/{license_id}", headers=FINANCE))
    assert [p["payer_reference"] for p in account["payments"]] == ["BANK-2"]
    other = {**payment, "amount": 20_000}
    reused = await client.post(f"/accounts/{license_id}/payments", json=other, headers=keyed)
    error(reused, 409, "idempotency_key_reused")
    assert stored(app) == after_first


async def test_finance_records_a_receipt_in_one_call_and_sees_unapplied_cash(client: Client) -> None:
    license_id = await granted_exclusive(client)  # upfront 1,000.00 invoiced on 2025-01-02
    receipt = {"amount": 130_000, "currency": "CNY", "received_date": "2025-02-01", "payer_reference": "BANK-9",
               "uninvoiced_kind": "milestone"}  # fmt: skip
    answer = ok(await client.post(f"/licenses/{license_id}/receipts", json=receipt, headers=FINANCE), 201)
    assert [(a["kind"], a["amount"]) for a in answer["applied"]] == [("upfront", 100_000), ("milestone", 30_000)]
    assert (answer["unapplied"], answer["warnings"]) == (0, [])
    account = ok(await client.get(f"/accounts/{license_id}", headers=FINANCE))
    assert [(i["invoice_id"], i["open_amount"]) for i in account["invoices"]][-1] == (answer["invoice_id"], 0)
    payment = {"amount": 7_000, "currency": "CNY", "received_date": "2025-03-01", "payer_reference": "BANK-10"}
    paid = ok(await client.post(f"/accounts/{license_id}/payments", json=payment, headers=FINANCE), 201)
    assert (paid["applied"], paid["unapplied"]) == ([], 7_000)
    assert "unapplied" in paid["warnings"][0]
    receivables = ok(await client.get("/receivables", params={"as_of": "2025-03-31"}, headers=FINANCE))
    assert [(u["payment_id"], u["amount"], u["payer_reference"]) for u in receivables["unapplied"]] == [
        (paid["id"], 7_000, "BANK-10")
    ]
    bad = {**receipt, "uninvoiced_kind": "gift"}
    details = error(
        await client.post(f"/licenses/{license_id}/receipts", json=bad, headers=FINANCE), 422, "invalid_request"
    )
    assert [p["field"] for p in details["details"]["problems"]] == ["uninvoiced_kind"]
    error(await client.post(f"/licenses/{license_id}/receipts", json=receipt, headers=member(UNI)), 403, "forbidden")


async def test_no_4xx_leaves_anything_half_written(client: Client, app: CommercializationApplication) -> None:
    license_id = await granted_exclusive(client)
    before = stored(app)
    bad_csv = "product,country,currency,gross_sales,deductions\ncell,CN,CNY,8000.00,0\ncell,DE,CNY,10.00,0\n"
    refused = [
        (await client.post(
            f"/licenses/{license_id}/royalty-reports/csv", content=bad_csv,
            params={"period_start": "2025-01-01", "period_end": "2025-03-31"},
            headers={**FINANCE, "Content-Type": "text/csv"},
        ), 422),
        (await client.post(
            f"/accounts/{license_id}/payments", headers=FINANCE,
            json={"amount": 5, "currency": "CNY", "received_date": "2025-02-15", "payer_reference": "X",
                  "invoice_ids": [str(uuid.uuid4())]},
        ), 404),
        (await client.post(f"/licenses/{license_id}/consents", json={}, headers=member(STRANGER)), 403),
        (await client.post(f"/accounts/{license_id}/payments", json={"amount": 5}, headers=FINANCE), 422),
        (await client.post(f"/accounts/{license_id}/payments", json={"amount": 5}), 401),
        (await client.post("/licenses", json={**EXCLUSIVE, "asset_ids": [str(uuid.uuid4())]},
                           headers=member(UNI)), 404),
        (await client.post("/licenses", json={**EXCLUSIVE, "asset_ids": [str(SOLE)], "license_type": "perpetual"},
                           headers=member(UNI)), 422),
    ]  # fmt: skip
    for response, status in refused:
        assert response.status_code == status, response.text
        assert response.json()["error"]["message"]
    csv_rows = refused[0][0].json()["error"]["details"]["errors"]
    assert [(row["row"], row["column"]) for row in csv_rows] == [(3, "country")]
    assert stored(app) == before
    assert ok(await client.get(f"/licenses/{license_id}/royalty-reports", headers=FINANCE)) == []


async def test_finance_sees_a_transfer_the_registry_refused_with_its_reason(
    client: Client, app: CommercializationApplication
) -> None:
    dispatcher = CommandContext(Principal(Role.SERVICE, "ownership-transfers"))
    sale = {"asset_id": str(SOLE), "assignee": "Buyer Ltd", "proceeds": 1_000, "currency": "CNY",
            "effective_date": "2025-03-01"}  # fmt: skip
    proposed = ok(await client.post("/assignments", json=sale, headers=member(UNI)), 201)
    assert (proposed["status"], proposed["transfer_status"]) == ("agreed", "pending")  # the sole owner agreed
    assignment_id = uuid.UUID(proposed["assignment_id"])
    request_id = app.get_assignment(dispatcher, assignment_id).request_id
    app.refuse_ownership_transfer(dispatcher, assignment_id, request_id, "NOT_FOUND", "asset is not in the registry")

    shown = ok(await client.get(f"/assignments/{assignment_id}", headers=FINANCE))

    assert (shown["status"], shown["transfer_status"], shown["transfer_refused_on"]) == (
        "transfer_refused", "refused", date.today().isoformat())  # fmt: skip
    assert (shown["transfer_refusal_code"], shown["transfer_refusal_reason"]) == (
        "NOT_FOUND", "asset is not in the registry")  # fmt: skip


# ---- concurrent writes, bad input, drafts by strangers -----------------------------------------


MONTHS = 12


def monthly_report(month: int) -> dict[str, object]:
    end = (28, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    return {
        "period_start": f"2025-{month:02d}-01", "period_end": f"2025-{month:02d}-{end}", "effective_date": "2026-01-10",
        "lines": [{"product": "cell-A", "country": "CN", "currency": "CNY", "gross_sales": 10_000 * month,
                   "field_of_use": "batteries"}],
    }  # fmt: skip


def failures(answers: list[httpx.Response]) -> list[str]:
    return [a.text for a in answers if a.status_code != 201]


async def test_royalty_reports_and_payments_sent_at_once_all_land(client: Client) -> None:
    license_id = await granted_exclusive(client)
    reports = await asyncio.gather(*(
        client.post(f"/licenses/{license_id}/royalty-reports", json=monthly_report(m), headers=FINANCE)
        for m in range(1, MONTHS + 1)
    ))  # fmt: skip
    assert failures(reports) == []
    payments = await asyncio.gather(*(
        client.post(f"/accounts/{license_id}/payments", headers=FINANCE, json={
            "amount": 1_000 + n, "currency": "CNY", "received_date": "2025-02-15", "payer_reference": f"BANK-{n}"})
        for n in range(MONTHS)
    ))  # fmt: skip
    assert failures(payments) == []
    listed = ok(await client.get(f"/licenses/{license_id}/royalty-reports", headers=FINANCE))
    assert sorted(r["period_start"] for r in listed) == sorted(f"2025-{m:02d}-01" for m in range(1, MONTHS + 1))
    account = ok(await client.get(f"/accounts/{license_id}", headers=FINANCE))
    assert sorted(p["payer_reference"] for p in account["payments"]) == sorted(f"BANK-{n}" for n in range(MONTHS))


@pytest.mark.parametrize(
    ("encoding", "newline"), [("utf-8", "\r"), ("utf-8-sig", "\r\n"), ("gb18030", "\n"), ("gbk", "\r\n")]
)
async def test_a_royalty_report_csv_is_read_as_spreadsheets_write_it(
    client: Client, encoding: str, newline: str
) -> None:
    license_id = await granted_exclusive(client)
    rows = ["product,country,currency,gross_sales,deductions,field_of_use", "电池单元,CN,CNY,8000.00,0,batteries"]
    response = await client.post(
        f"/licenses/{license_id}/royalty-reports/csv", content=newline.join(rows).encode(encoding) + newline.encode(),
        params={"period_start": "2025-01-01", "period_end": "2025-03-31"},
        headers={**FINANCE, "Content-Type": "text/csv"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    (report,) = ok(await client.get(f"/licenses/{license_id}/royalty-reports", headers=FINANCE))
    assert report["net_sales"] == {"CNY": 800_000}


async def test_bad_currencies_and_dates_are_422s_naming_the_field_and_store_nothing(
    client: Client, app: CommercializationApplication
) -> None:
    license_id = await granted_exclusive(client)
    before = stored(app)
    payment = {"amount": 5, "currency": "XXX", "received_date": "2025-02-15", "payer_reference": "X"}
    bad = [
        (f"/accounts/{license_id}/payments", payment, "currency"),
        (f"/accounts/{license_id}/payments", {**payment, "currency": "CNY", "received_date": 0}, "received_date"),
        (f"/licenses/{license_id}/royalty-reports", {**monthly_report(1), "effective_date": 0}, "effective_date"),
    ]
    for path, body, field in bad:
        body_error = error(await client.post(path, json=body, headers=FINANCE), 422, "invalid_request")
        assert {p["field"] for p in body_error["details"]["problems"]} == {field}
    as_of = error(await client.get("/receivables", params={"as_of": "0"}, headers=FINANCE), 422, "invalid_request")
    assert {p["field"] for p in as_of["details"]["problems"]} == {"as_of"}
    assert stored(app) == before


async def test_a_member_may_not_draft_a_license_on_an_asset_it_does_not_own(
    client: Client, app: CommercializationApplication
) -> None:
    before = stored(app)
    draft = await client.post("/licenses", json={**EXCLUSIVE, "submit": False}, headers=member(STRANGER))
    error(draft, 403, "forbidden")
    assert stored(app) == before
    assert str(CO_OWNED) in EXCLUSIVE["asset_ids"]  # type: ignore[operator]
