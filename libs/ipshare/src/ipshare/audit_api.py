"""The auditor's read-only access to a service's audit log: REST routes and the gRPC ``AuditLog`` service.

Every service mounts both (the runtime does it). Only the auditor and admin roles may read; nothing
here writes. Hashes travel as hex, byte strings (canonical entries, envelopes, signatures) as base64.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ipshare.audit import SignedCheckpoint
from ipshare.audit_log import AuditEntry, AuditLog
from ipshare.auth import Principal, Role
from ipshare.grpc_runtime import abort_for, caller
from ipshare.permissions import Permission, may
from ipshare.settings import AuthSettings
from ipshare.web import require_permission
from ipshare_contracts.audit.v1 import audit_pb2 as pb
from ipshare_contracts.audit.v1 import audit_pb2_grpc
from ipshare_kernel.errors import DomainError, Forbidden

_STREAM_CHUNK = 500

router = APIRouter(
    prefix="/audit", tags=["audit"], dependencies=[Depends(require_permission(Permission.READ_AUDIT_LOG))]
)


def audit_of(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit()
    return audit


AuditDep = Annotated[AuditLog, Depends(audit_of)]

Hex = Annotated[str, Field(description="a SHA-256 hash in hex")]
Base64 = Annotated[str, Field(description="bytes in base64")]


class LogOut(BaseModel):
    log_id: str
    topic: str
    partitions: int
    size: int = Field(description="entries in the log")
    root_hash: Hex
    chain_head: Hex
    public_key: Base64 = Field(description="the Ed25519 key checkpoints verify with (raw, base64)")
    key_id: str


class CheckpointOut(BaseModel):
    log_id: str
    tree_size: int
    root_hash: Hex
    chain_head: Hex
    timestamp: str = Field(description="ISO 8601 with offset, as signed")
    signature: Base64
    key_id: str


class ActorOut(BaseModel):
    subject: str = Field(description="the identity provider's subject of the person or service")
    role: Role
    name: str | None
    member_id: str | None = Field(description="the member acted for")


class ProofOut(BaseModel):
    tree_size: int
    hashes: list[Hex]


class EntryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "One event as the log holds it."})

    position: int
    notification_id: int
    aggregate_id: uuid.UUID
    aggregate_version: int
    type: str = Field(description="the event's type name (an open set: every event class of the service)")
    actor: ActorOut | None = Field(description="who recorded it; null for an event recorded before actors were kept")
    caused_by: ActorOut | None = Field(description="whose act, in another service, it answers")
    principal: str
    canonical: Base64 = Field(description="the canonical form the entry hash covers")
    entry_hash: Hex | None = Field(description="null until the entry is chained")
    envelope: Base64 | None = Field(description="the envelope as published; null for a private event")
    inclusion_proof: ProofOut | None = Field(None, description="with proofs=true; null beyond the tree's size")


class AggregateHistoryOut(BaseModel):
    aggregate_id: uuid.UUID
    entries: list[EntryOut]
    checkpoint: CheckpointOut | None = Field(None, description="with proofs=true: the tree the proofs are for")


class InclusionProofOut(ProofOut):
    position: int
    leaf_hash: Hex
    root_hash: Hex


class ConsistencyProofOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    old_size: int = Field(alias="from")
    new_size: int = Field(alias="to")
    old_root: Hex
    new_root: Hex
    hashes: list[Hex]


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    event = entry.event
    return {
        "position": entry.position,
        "notification_id": entry.notification_id,
        "aggregate_id": event.originator_id,
        "aggregate_version": event.originator_version,
        "type": event.type_name,
        **entry.attribution.to_json(),
        "canonical": base64.b64encode(entry.canonical).decode("ascii"),
        "entry_hash": entry.entry_hash.hex() if entry.chained else None,
        "envelope": base64.b64encode(entry.envelope).decode("ascii") if entry.envelope else None,
    }


def log_info(audit: AuditLog) -> dict[str, Any]:
    return {
        "log_id": audit.log_id, "topic": audit.topic, "partitions": audit.partitions, "size": audit.size,
        "root_hash": audit.tree.root().hex(), "chain_head": audit.chain.head.hex(),
        "public_key": audit.public_key_base64(), "key_id": audit.key_id(),
    }  # fmt: skip


@router.get("/log", summary="What the log is: size, root hash, chain head, the key checkpoints verify with",
            response_model=LogOut)  # fmt: skip
async def get_log(audit: AuditDep) -> dict[str, Any]:
    return log_info(audit)


@router.get("/checkpoints", summary="Every signed checkpoint, oldest first", response_model=list[CheckpointOut])
async def list_checkpoints(audit: AuditDep) -> list[dict[str, str | int]]:
    return [c.to_dict() for c in await asyncio.to_thread(audit.checkpoints)]


@router.get("/history", summary="Entries in log order from a position, as stored now", response_model=list[EntryOut],
            response_model_exclude_unset=True)  # fmt: skip
async def get_history(
    audit: AuditDep,
    from_position: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    return [entry_json(e) for e in await asyncio.to_thread(audit.history, from_position, limit)]


@router.get("/aggregates/{aggregate_id}/history", summary="One aggregate's entries, with inclusion proofs on request",
            response_model=AggregateHistoryOut, response_model_exclude_unset=True)  # fmt: skip
async def get_aggregate_history(
    audit: AuditDep,
    aggregate_id: uuid.UUID,
    proofs: bool = False,
    tree_size: Annotated[int | None, Query(ge=0, description="default: the latest checkpoint's")] = None,
) -> dict[str, Any]:
    entries = await asyncio.to_thread(audit.aggregate_history, aggregate_id)
    body: dict[str, Any] = {"aggregate_id": str(aggregate_id), "entries": [entry_json(e) for e in entries]}
    if not proofs:
        return body
    checkpoint = await _checkpoint_for(audit, tree_size)
    size = checkpoint.tree_head.tree_size if checkpoint else tree_size or 0
    body["checkpoint"] = checkpoint.to_dict() if checkpoint else None
    for entry, shown in zip(entries, body["entries"], strict=True):
        proof = audit.inclusion_proof(entry.position, size) if 0 <= entry.position < size else None
        shown["inclusion_proof"] = _proof_json(proof, size) if proof is not None else None
    return body


async def _checkpoint_for(audit: AuditLog, tree_size: int | None) -> SignedCheckpoint | None:
    """The checkpoint of that size (or the latest): proofs are only worth checking against a signed root."""
    checkpoints = await asyncio.to_thread(audit.checkpoints)
    if tree_size is None:
        return checkpoints[-1] if checkpoints else None
    matching = [c for c in checkpoints if c.tree_head.tree_size == tree_size]
    return matching[-1] if matching else None


def _proof_json(proof: list[bytes], tree_size: int) -> dict[str, Any]:
    return {"tree_size": tree_size, "hashes": [h.hex() for h in proof]}


@router.get("/proofs/inclusion", summary="Audit path of one entry in the tree of a given size",
            response_model=InclusionProofOut)  # fmt: skip
async def inclusion_proof(
    audit: AuditDep, position: Annotated[int, Query(ge=0)], tree_size: Annotated[int, Query(ge=1)]
) -> dict[str, Any]:
    proof = audit.inclusion_proof(position, tree_size)
    return {"position": position, "leaf_hash": audit.tree.leaf_hash_at(position).hex(),
            "root_hash": audit.tree.root(tree_size).hex(), **_proof_json(proof, tree_size)}  # fmt: skip


@router.get("/proofs/consistency", summary="Proof that the tree of size `from` is a prefix of the one of size `to`",
            response_model=ConsistencyProofOut)  # fmt: skip
async def consistency_proof(
    audit: AuditDep,
    old_size: Annotated[int, Query(alias="from", ge=0)],
    new_size: Annotated[int, Query(alias="to", ge=0)],
) -> dict[str, Any]:
    proof = audit.consistency_proof(old_size, new_size)
    return {"from": old_size, "to": new_size, "old_root": audit.tree.root(old_size).hex(),
            "new_root": audit.tree.root(new_size).hex(), "hashes": [h.hex() for h in proof]}  # fmt: skip


Context = grpc.aio.ServicerContext[Any, Any]


def checkpoint_message(checkpoint: SignedCheckpoint) -> pb.CheckpointSigned:
    fields = checkpoint.to_dict()
    return pb.CheckpointSigned(
        log_id=str(fields["log_id"]), tree_size=int(fields["tree_size"]), root_hash=str(fields["root_hash"]),
        chain_head=str(fields["chain_head"]), signed_at=str(fields["timestamp"]),
        signature=str(fields["signature"]), key_id=str(fields["key_id"]),
    )  # fmt: skip


def checkpoint_of(message: pb.CheckpointSigned) -> SignedCheckpoint:
    return SignedCheckpoint.from_dict(
        {"log_id": message.log_id, "tree_size": message.tree_size, "root_hash": message.root_hash,
         "chain_head": message.chain_head, "timestamp": message.signed_at, "signature": message.signature,
         "key_id": message.key_id}
    )  # fmt: skip


class AuditLogServicer(audit_pb2_grpc.AuditLogServicer):
    def __init__(self, audit: Callable[[], AuditLog], settings: AuthSettings) -> None:
        self.audit = audit
        self.settings = settings

    async def _authorize(self, context: Context) -> Principal:
        principal = caller(context, self.settings)
        if not may(principal, Permission.READ_AUDIT_LOG):
            await abort_for(context, Forbidden(f"role {principal.role.value} may not read the audit log"))
        return principal

    async def GetLogInfo(self, request: pb.LogInfoRequest, context: Context) -> pb.LogInfo:  # noqa: N802
        await self._authorize(context)
        info = log_info(self.audit())
        return pb.LogInfo(
            log_id=info["log_id"], topic=info["topic"], partitions=info["partitions"], size=info["size"],
            root_hash=bytes.fromhex(info["root_hash"]), chain_head=bytes.fromhex(info["chain_head"]),
            public_key=info["public_key"], key_id=info["key_id"],
        )  # fmt: skip

    async def ListCheckpoints(  # noqa: N802
        self, request: pb.ListCheckpointsRequest, context: Context
    ) -> AsyncIterator[pb.CheckpointSigned]:
        await self._authorize(context)
        for checkpoint in await asyncio.to_thread(self.audit().checkpoints):
            yield checkpoint_message(checkpoint)

    async def StreamHistory(self, request: pb.StreamHistoryRequest, context: Context) -> AsyncIterator[pb.HistoryEntry]:  # noqa: N802
        await self._authorize(context)
        if request.from_position < 0 or request.limit < 0:
            await abort_for(context, DomainError("from_position and limit cannot be negative"))
        audit, left = self.audit(), request.limit or None
        after: int | None = None
        while left is None or left > 0:
            chunk = min(_STREAM_CHUNK, left) if left is not None else _STREAM_CHUNK
            entries = await asyncio.to_thread(audit.history, request.from_position, chunk, after=after)
            for entry in entries:
                yield pb.HistoryEntry(position=entry.position, notification_id=entry.notification_id,
                                      canonical=entry.canonical, entry_hash=entry.entry_hash,
                                      envelope=entry.envelope)  # fmt: skip
            if len(entries) < chunk:
                return
            after = entries[-1].notification_id
            left = left - len(entries) if left is not None else None


def add_audit_servicer(server: grpc.aio.Server, audit: Callable[[], AuditLog], settings: AuthSettings) -> str:
    audit_pb2_grpc.add_AuditLogServicer_to_server(AuditLogServicer(audit, settings), server)
    return str(pb.DESCRIPTOR.services_by_name["AuditLog"].full_name)
