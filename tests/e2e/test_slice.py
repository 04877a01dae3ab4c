"""The slice end to end: four services as processes, real PostgreSQL and broker, over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ipshare.auth import Role
from ipshare.dev_issuer import AUDITOR_CLIENT
from ipshare_contracts.incubation.v1 import service_pb2 as incubation_pb
from ipshare_contracts.incubation.v1 import service_pb2_grpc as incubation_grpc
from ipshare_contracts.ipregistry.v1 import service_pb2 as registry_pb
from ipshare_contracts.ipregistry.v1 import service_pb2_grpc as registry_grpc
from ipshare_devtools.demo import Slice, SliceResult
from ipshare_devtools.stack import Stack
from ipshare_devtools.testing.traces import OtlpCollector, ReceivedSpan
from ipshare_kernel.money import allocate

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def result(stack: Stack) -> Iterator[SliceResult]:
    flow = Slice(stack.settings)
    try:
        yield flow.run()
    finally:
        flow.close()


def test_one_receipt_is_split_exactly_between_inventors_and_co_owners(result: SliceResult) -> None:
    paid = {p["payee"]["id"]: p["entitled"] for p in result.payouts}
    assert sum(paid.values()) == result.receipt
    university, institute = result.members.values()
    li, zhang = result.researchers.values()
    assert set(paid) == {university, institute, li, zhang}
    to_researchers, to_owners = paid[li] + paid[zhang], paid[university] + paid[institute]
    assert sorted([to_researchers, to_owners]) == [result.receipt // 2, result.receipt // 2 + 1]
    # 60/40 between the co-owners; each one's part pays half to its own inventor (Li Wei is the
    # university's, Zhang Min the institute's), the odd fen to the researcher.
    parts = allocate(result.receipt, {university: 6000, institute: 4000})
    assert (paid[li] + paid[university], paid[zhang] + paid[institute]) == (parts[university], parts[institute])
    assert (paid[li] - paid[university], paid[zhang] - paid[institute]) == (parts[university] % 2, parts[institute] % 2)
    [reconciliation] = result.reconciliation
    assert (reconciliation["receipts"], reconciliation["payouts"], reconciliation["residual"]) == (
        result.receipt,
        result.receipt,
        0,
    )


def test_services_answer_health_and_reject_bad_input(stack: Stack, bearer: Callable[..., dict[str, str]]) -> None:
    for service in stack.settings.services():
        health = httpx.get(f"{service.base_url}/healthz").json()
        assert health["checks"] == {"database": "ok", "broker": "ok", "topic": "ok"}
        assert httpx.get(f"{service.base_url}/nowhere").status_code == 404
        with grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
            # gRPC health follows the same checks on its own beat: watch it turn SERVING
            replies = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=30)
            assert next(r for r in replies if r.status == health_pb2.HealthCheckResponse.SERVING)
            replies.cancel()
    registry = stack.settings.services()[0].base_url
    response = httpx.post(f"{registry}/members", json={"name": "x"}, headers=bearer(Role.ADMIN))
    assert response.status_code == 422
    assert {p["field"] for p in response.json()["error"]["details"]["problems"]} >= {"kind", "credit_code"}
    assert httpx.post(f"{registry}/members", json={}).status_code == 401


def test_replay_from_the_topics_reproduces_the_closed_statements(
    stack: Stack, result: SliceResult, bearer: Callable[..., dict[str, str]]
) -> None:
    [revenue_share] = [s for s in stack.settings.services() if s.name == "revenue-share"]
    # Every deployment has a distribution policy: the replay must re-record it (it once failed on it).
    policy = {
        "version": "center-e2e",
        "effective_date": f"{result.period_id}-01-01",
        "recover_costs": True,
        "researcher_brackets": [{"from_amount": 0, "researchers_bps": 5000}],
        "minimum_payout": {"CNY": 1},
    }
    posted = httpx.post(f"{revenue_share.base_url}/policies/center", json=policy, headers=bearer(Role.ADMIN))
    assert posted.status_code == 201, posted.text
    closed = httpx.post(f"{revenue_share.base_url}/periods/{result.period_id}/close", headers=bearer(Role.FINANCE))
    assert closed.status_code == 200, closed.text

    issued_hash = closed.json()["statement_hash"][:16]
    env = {**os.environ, **stack.service_env(revenue_share), "LOG_JSON": "false"}
    command = [sys.executable, "-m", "revenue_share.entrypoints.cli", "replay", "--into", "e2e_replay"]
    for _ in range(10):  # the relay publishes the close a moment after it is recorded
        replay = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
        if issued_hash in replay.stderr:
            break
        time.sleep(1)

    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert issued_hash in replay.stderr
    assert "identical" in replay.stderr


def test_the_spin_off_and_its_seed_project_are_readable_and_guarded(
    stack: Stack, result: SliceResult, bearer: Callable[..., dict[str, str]]
) -> None:
    incubation = next(s for s in stack.settings.services() if s.name == "incubation").base_url
    university, institute = result.members.values()
    cap_table = httpx.get(
        f"{incubation}/spin-offs/{result.spin_off_id}/cap-table", params={"as_of": "2026-04-01"},
        headers=bearer(Role.MEMBER, university),
    ).json()  # fmt: skip
    assert cap_table["issued"] == {"common": 5_000_000}
    assert sum(line["total"] for line in cap_table["fully_diluted"]) == cap_table["fully_diluted_total"]
    ocf = httpx.get(f"{incubation}/spin-offs/{result.spin_off_id}/ocf", headers=bearer(Role.AUDITOR)).json()
    issued = [t for t in ocf["transactions.ocf.json"]["items"] if t["object_type"] == "TX_STOCK_ISSUANCE"]
    assert sum(int(t["quantity"]) for t in issued) == 5_000_000
    project = f"{incubation}/seed-projects/{result.seed_project_id}"
    opened = httpx.get(project, headers=bearer(Role.AUDITOR))
    first, second = opened.json()["milestones"]
    assert (first["status"], opened.json()["released"]["amount_minor"]) == (
        "approved",
        first["tranche"]["amount_minor"],
    )
    refused = httpx.post(
        f"{project}/milestones/{second['milestone_id']}/release", json={}, headers=bearer(Role.FINANCE)
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["milestone"] == "first series order"
    stale = httpx.post(
        f"{project}/milestones/{second['milestone_id']}/evidence", json={"evidence": ["x"]},
        headers={**bearer(Role.INCUBATOR), "If-Match": '"1"'},
    )  # fmt: skip
    assert stale.status_code == 412
    assert httpx.get(project, headers=bearer(Role.MEMBER, university)).status_code == 403
    grpc_port = next(s for s in stack.settings.services() if s.name == "incubation").grpc_port
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = incubation_grpc.IncubationStub(channel)
        auditor = [("authorization", bearer(Role.AUDITOR)["Authorization"])]
        table = stub.GetCapTable(incubation_pb.GetCapTableRequest(spin_off_id=result.spin_off_id), metadata=auditor)
        seed = stub.GetSeedProject(
            incubation_pb.GetSeedProjectRequest(seed_project_id=result.seed_project_id), metadata=auditor
        )
        with pytest.raises(grpc.RpcError) as denied:
            stub.GetCapTable(incubation_pb.GetCapTableRequest(spin_off_id=result.spin_off_id))
    assert sum(h.quantity for h in table.holdings) == 5_000_000
    assert [m.status for m in seed.milestones] == ["approved", "open"]
    assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert httpx.get(project, headers=bearer(Role.MEMBER, institute)).status_code == 200


def test_an_auditor_verifies_every_log_and_statement_and_sees_a_statement_altered_after_issue(
    stack: Stack, result: SliceResult, bearer: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    [revenue_share] = [s for s in stack.settings.services() if s.name == "revenue-share"]
    closed = httpx.post(f"{revenue_share.base_url}/periods/{result.period_id}/close", headers=bearer(Role.FINANCE))
    assert closed.status_code in (200, 409), closed.text  # the replay test may have closed it already
    env = {**os.environ, **stack.service_env(revenue_share), "COLUMNS": "400"}
    ipshare = str(Path(sys.executable).parent / "ipshare")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ipshare, *args], env=env, capture_output=True, text=True, timeout=120, check=False)

    for _ in range(20):  # checkpoints are signed every second here; the close reaches the log a moment later
        verified = run("verify")
        if verified.returncode == 0 and "statements identical" in verified.stdout:
            break
        time.sleep(1)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "everything verified" in verified.stdout
    for service in stack.settings.services():
        assert f"verified  {service.name}: " in verified.stdout

    # as against a real provider: the command gets its own token, by the auditor client's credentials
    exported = run("export", str(tmp_path / "export"), "--client-id", AUDITOR_CLIENT, "--client-secret",
                   stack.issuer.client_secret)  # fmt: skip
    assert exported.returncode == 0, exported.stdout + exported.stderr
    offline = run("verify", "--from", str(tmp_path / "export"))
    assert offline.returncode == 0, offline.stdout + offline.stderr

    with altered_statement(stack.service_database(revenue_share)) as position:
        tampered = run("verify")
    assert tampered.returncode == 1, tampered.stdout
    assert f"entry_changed: the event at position {position}" in tampered.stdout
    assert "statement_differs: period" in tampered.stdout
    # who closed the period that issued it: finance (named when signed in with a name, as in the console's tests)
    recorded_by = rf"the StatementIssued event at position {position}, recorded by ([^(]+ \()?dev-finance\)?, finance\)"
    assert re.search(recorded_by, tampered.stdout), tampered.stdout


@contextmanager
def altered_statement(database_url: str) -> Iterator[int]:
    """One issued statement's amount raised by one fen in the event store, put back afterwards."""

    async def swap(replace: bool, original: tuple[int, bytes] | None) -> tuple[int, bytes]:
        conn = await asyncpg.connect(database_url)
        table = "revenueshareapplication_events"  # eventsourcing names it after the application class
        try:
            if original is not None:
                await conn.execute(f"UPDATE {table} SET state = $2 WHERE notification_id = $1", *original)
                return original
            row = await conn.fetchrow(
                f"SELECT notification_id, state FROM {table} WHERE topic LIKE '%IssuedStatement.Issued' "
                "ORDER BY notification_id LIMIT 1"
            )
            assert row is not None
            state = json.loads(row["state"])
            state["lines"][0]["amount"] += 1
            await conn.execute(f"UPDATE {table} SET state = $2 WHERE notification_id = $1",
                               row["notification_id"], json.dumps(state).encode())  # fmt: skip
            position = await conn.fetchval("SELECT position FROM audit_chain WHERE notification_id = $1",
                                           row["notification_id"])  # fmt: skip
            return int(position), bytes(row["state"])
        finally:
            await conn.close()

    position, state = asyncio.run(swap(True, None))
    try:
        yield position
    finally:
        notification_id = asyncio.run(_notification_of(database_url, position))
        asyncio.run(swap(False, (notification_id, state)))


async def _notification_of(database_url: str, position: int) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT notification_id FROM audit_chain WHERE position = $1", position))
    finally:
        await conn.close()


def test_one_trace_follows_the_payment_from_its_route_through_the_bus_to_revenue_shares_inbox(
    result: SliceResult, otlp: OtlpCollector
) -> None:
    """The payment's request, the relay's publish (later, in another task, under the context stored with
    the event) and revenue-share's consumer that applied the receipt to its ledger's inbox: one trace
    across two services and the broker."""

    def payment_trace() -> list[ReceivedSpan]:
        spans = otlp.received()
        routes = [s for s in spans if s.service == "commercialization" and s.kind == SERVER
                  and s.attributes.get("http.route") == "/accounts/{deal_id}/payments"]  # fmt: skip
        return [s for s in spans if routes and s.trace_id == routes[0].trace_id]

    in_trace = wait_for(payment_trace, lambda spans: any(s.service == "revenue-share" for s in spans))
    [route] = [s for s in in_trace if s.kind == SERVER and s.service == "commercialization"]
    received = "ipshare.commercialization.v1.RevenueReceived"
    # At least once: a publish sent again (a refilled topic) is another span under the same request.
    published = {
        s.span_id: s for s in in_trace if s.kind == PRODUCER and s.attributes["ipshare.event_type"] == received
    }
    [applied] = [s for s in in_trace if s.kind == CONSUMER and s.service == "revenue-share"
                 and s.attributes["ipshare.event_type"] == received]  # fmt: skip
    assert published
    assert {(p.service, p.parent_span_id) for p in published.values()} == {("commercialization", route.span_id)}
    assert applied.parent_span_id in published  # the traceparent header of the Kafka message
    assert applied.attributes["messaging.consumer.group.name"] == "inbox"
    assert applied.attributes["messaging.destination.name"] == "ipshare.commercialization.v1"


def test_a_grpc_call_continues_its_callers_trace_in_the_service(
    stack: Stack, result: SliceResult, otlp: OtlpCollector, bearer: Callable[..., dict[str, str]]
) -> None:
    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    metadata = (("authorization", bearer(Role.ADMIN)["Authorization"]),
                ("traceparent", f"00-{trace_id}-{caller_span}-01"))  # fmt: skip
    registry = stack.settings.services()[0]
    with grpc.insecure_channel(f"127.0.0.1:{registry.grpc_port}") as channel:
        request = registry_pb.GetOwnershipAsOfRequest(asset_id=result.asset_id, as_of="2026-06-30")
        reply = registry_grpc.IpRegistryStub(channel).GetOwnershipAsOf(request, metadata=metadata, timeout=10)
    assert reply.owners

    [served] = wait_for(lambda: [s for s in otlp.received() if s.trace_id == trace_id], bool)
    assert (served.service, served.kind, served.parent_span_id) == ("ip-registry", SERVER, caller_span)
    assert served.name == "/ipshare.ipregistry.v1.IpRegistry/GetOwnershipAsOf"


SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP's span kinds


def wait_for(
    read: Callable[[], list[ReceivedSpan]], done: Callable[[list[ReceivedSpan]], bool], seconds: float = 30
) -> list[ReceivedSpan]:
    """What `read` returns once `done` holds (the services export their spans in batches)."""
    deadline = time.monotonic() + seconds
    found = read()
    while not done(found) and time.monotonic() < deadline:
        time.sleep(0.2)
        found = read()
    return found
