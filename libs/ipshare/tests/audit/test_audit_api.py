"""The auditor's REST routes and the gRPC AuditLog service over an in-memory log."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import httpx
import pytest

from ipshare.audit import CanonicalEvent, verify_checkpoint, verify_consistency, verify_inclusion
from ipshare.audit.checkpoint import SignedCheckpoint, load_public_key
from ipshare.audit.merkle import leaf_hash
from ipshare.audit_api import add_audit_servicer, checkpoint_of
from ipshare.audit_api import router as audit_router
from ipshare.audit_log import AuditEntry, AuditLog
from ipshare.auth import Principal, Role, issue_token
from ipshare.eventstore import CommandContext
from ipshare.grpc_runtime import create_server
from ipshare.settings import AuthSettings
from ipshare.web import application_api
from ipshare_contracts.audit.v1 import audit_pb2, audit_pb2_grpc

from .conftest import CONTEXT, Notes, write

if TYPE_CHECKING:
    from ipshare_contracts.audit.v1.audit_pb2_grpc import AuditLogAsyncStub

AUTH = AuthSettings(jwt_secret="audit-api-test-secret-of-enough-length")


def bearer(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(AUTH, role, subject='tester')}"}


@pytest.fixture
async def filled(app: Notes, audit: AuditLog) -> AuditLog:
    """Five notes, a checkpoint, two more notes (one an amendment) and a second checkpoint."""
    [first, *_] = write(app, *"abcde")
    await audit.advance()
    await audit.checkpoint()
    note = app.repository.get(first)
    note.amend("a2")
    app.record(CONTEXT, note)
    write(app, "f")
    await audit.advance()
    await audit.checkpoint()
    await audit.advance()
    return audit


@pytest.fixture
async def client(app: Notes, filled: AuditLog) -> AsyncIterator[httpx.AsyncClient]:
    api = application_api("notes", AUTH, lambda: app, [audit_router])
    api.state.audit = lambda: filled
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as c:
        yield c


async def test_only_auditors_and_admins_read_the_log(client: httpx.AsyncClient) -> None:
    assert (await client.get("/audit/log")).status_code == 401
    refused = await client.get("/audit/log", headers=bearer(Role.FINANCE))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert (await client.get("/audit/log", headers=bearer(Role.ADMIN))).status_code == 200


async def test_checkpoints_and_consistency_proofs_verify(client: httpx.AsyncClient, filled: AuditLog) -> None:
    info = (await client.get("/audit/log", headers=bearer(Role.AUDITOR))).json()
    key = load_public_key(info["public_key"])
    assert info["size"] == filled.size == 9  # 5 notes, a checkpoint, an amendment, a note, a checkpoint
    body = (await client.get("/audit/checkpoints", headers=bearer(Role.AUDITOR))).json()
    older, newer = (SignedCheckpoint.from_dict(c) for c in body)
    for checkpoint in (older, newer):
        verify_checkpoint(checkpoint, key)
    old, new = older.tree_head, newer.tree_head
    params = {"from": old.tree_size, "to": new.tree_size}
    proof = (await client.get("/audit/proofs/consistency", params=params, headers=bearer(Role.AUDITOR))).json()
    verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash,
                       [bytes.fromhex(h) for h in proof["hashes"]])  # fmt: skip


async def test_an_aggregate_history_comes_with_inclusion_proofs(client: httpx.AsyncClient, filled: AuditLog) -> None:
    first = filled.history(0, 1)[0].event.originator_id
    body = (await client.get(f"/audit/aggregates/{first}/history", params={"proofs": "true"},
                             headers=bearer(Role.AUDITOR))).json()  # fmt: skip
    checkpoint = SignedCheckpoint.from_dict(body["checkpoint"])
    assert [e["aggregate_version"] for e in body["entries"]] == [1, 2]
    for entry in body["entries"]:
        proof = entry["inclusion_proof"]
        assert proof["tree_size"] == checkpoint.tree_head.tree_size
        verify_inclusion(leaf_hash(base64.b64decode(entry["canonical"])), entry["position"], proof["tree_size"],
                         [bytes.fromhex(h) for h in proof["hashes"]], checkpoint.tree_head.root_hash)  # fmt: skip


async def test_an_aggregate_history_names_who_recorded_each_event(
    app: Notes, client: httpx.AsyncClient, filled: AuditLog
) -> None:
    first = filled.history(0, 1)[0].event.originator_id
    note = app.repository.get(first)
    note.amend("a3")
    ana = Principal(Role.MEMBER, "auth0|ana", uuid.UUID(int=7), name="Ana Lima")
    app.record(CommandContext(ana), note)
    await filled.advance()
    body = (await client.get(f"/audit/aggregates/{first}/history", headers=bearer(Role.AUDITOR))).json()
    written, _, amended = body["entries"]
    assert written["actor"] == {"subject": "system", "name": None, "member_id": None, "role": "service"}
    assert amended["actor"] == {"subject": "auth0|ana", "name": "Ana Lima", "member_id": str(uuid.UUID(int=7)),
                                "role": "member"}  # fmt: skip
    assert (amended["caused_by"], amended["principal"]) == (None, f"member:{uuid.UUID(int=7)}")


def test_an_entry_recorded_before_actors_shows_only_its_principal() -> None:
    state = b'{"text":"a","_meta":{"principal":"member:42","correlation_id":"c","causation_id":""}}'
    entry = AuditEntry(0, 1, CanonicalEvent(0, str(uuid.UUID(int=1)), 1, "Note", state).to_bytes(), b"", b"")
    assert entry.attribution.to_json() == {"actor": None, "caused_by": None, "principal": "member:42"}
    unreadable = AuditEntry(0, 1, CanonicalEvent(0, str(uuid.UUID(int=1)), 1, "Note", b"\xff").to_bytes(), b"", b"")
    assert unreadable.attribution.to_json() == {"actor": None, "caused_by": None, "principal": ""}


async def test_proof_queries_outside_the_log_are_422(client: httpx.AsyncClient) -> None:
    bad = await client.get("/audit/proofs/inclusion", params={"position": 50, "tree_size": 60},
                           headers=bearer(Role.AUDITOR))  # fmt: skip
    assert bad.status_code == 422
    assert "entries" in bad.json()["error"]["message"]
    inverted = await client.get("/audit/proofs/consistency", params={"from": 5, "to": 3},
                                headers=bearer(Role.AUDITOR))  # fmt: skip
    assert inverted.status_code == 422
    missing = await client.get("/audit/aggregates/00000000-0000-0000-0000-000000000000/history",
                               headers=bearer(Role.AUDITOR))  # fmt: skip
    assert missing.status_code == 404


@pytest.fixture
async def stub(filled: AuditLog) -> AsyncIterator[AuditLogAsyncStub]:
    server, _ = create_server(AUTH)
    add_audit_servicer(server, lambda: filled, AUTH)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield audit_pb2_grpc.AuditLogStub(channel)  # type: ignore[no-untyped-call]
    await server.stop(None)


def metadata(role: Role) -> list[tuple[str, str]]:
    return [("authorization", bearer(role)["Authorization"])]


async def test_the_history_streams_from_any_position(stub: AuditLogAsyncStub, filled: AuditLog) -> None:
    request = audit_pb2.StreamHistoryRequest(from_position=3)
    streamed = [e async for e in stub.StreamHistory(request, metadata=metadata(Role.AUDITOR))]
    assert [e.position for e in streamed] == list(range(3, filled.size))
    assert [e.canonical for e in streamed] == [e.canonical for e in filled.history(3)]
    limited = [e async for e in stub.StreamHistory(audit_pb2.StreamHistoryRequest(from_position=1, limit=2),
                                                   metadata=metadata(Role.AUDITOR))]  # fmt: skip
    assert [e.position for e in limited] == [1, 2]
    checkpoints = [checkpoint_of(c) async for c in stub.ListCheckpoints(audit_pb2.ListCheckpointsRequest(),
                                                                        metadata=metadata(Role.AUDITOR))]  # fmt: skip
    assert checkpoints == filled.checkpoints()


async def test_the_stream_refuses_other_roles(stub: AuditLogAsyncStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        _ = [e async for e in stub.StreamHistory(audit_pb2.StreamHistoryRequest(), metadata=metadata(Role.FINANCE))]
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
