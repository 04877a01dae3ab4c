"""What an auditor collects of one service: its log as served, its checkpoints, the proofs it serves,
and a copy of its topic; fetched from the live service or read from an export directory.

Export layout, one folder per service (plain files, so any tool can read them)::

    <dir>/<service>/log.json          log id, topic, partitions, size, root hash, public key
    <dir>/<service>/checkpoints.json  the signed checkpoints, oldest first
    <dir>/<service>/history.jsonl     one entry per line: position, notification id, canonical bytes,
                                      recorded entry hash, envelope
    <dir>/<service>/proofs.json       the consistency proofs the service served between checkpoints
    <dir>/<service>/topic.jsonl       the messages on its topic: partition, offset, value
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx

from ipshare import bus
from ipshare.audit import SignedCheckpoint
from ipshare.audit_api import checkpoint_of
from ipshare.audit_log import AuditEntry
from ipshare.settings import BusSettings
from ipshare_contracts.audit.v1 import audit_pb2 as pb
from ipshare_contracts.audit.v1 import audit_pb2_grpc

Progress = Callable[[str, int, int | None], None]  # (stage, done, total or None)


@dataclass(frozen=True, slots=True)
class TopicMessage:
    partition: int
    offset: int
    value: bytes


@dataclass(frozen=True, slots=True)
class ServedProof:
    """A consistency proof as the service served it, between two checkpoint sizes."""

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ServedInclusion:
    """An inclusion proof as the service served it: entry ``position`` in the tree of ``tree_size``."""

    position: int
    tree_size: int
    hashes: tuple[bytes, ...]


@dataclass
class ServiceHistory:
    service: str
    log_id: str
    topic: str
    partitions: int
    size: int
    public_key: str  # as the service reports it; a trusted key given to the verifier wins
    entries: list[AuditEntry] = field(default_factory=list)
    checkpoints: list[SignedCheckpoint] = field(default_factory=list)
    proofs: list[ServedProof] = field(default_factory=list)
    inclusions: list[ServedInclusion] = field(default_factory=list)
    topic_messages: list[TopicMessage] | None = None  # None: the topic was not read

    def export(self, directory: Path) -> Path:
        folder = directory / self.service
        folder.mkdir(parents=True, exist_ok=True)
        info = {"service": self.service, "log_id": self.log_id, "topic": self.topic, "partitions": self.partitions,
                "size": self.size, "public_key": self.public_key}  # fmt: skip
        (folder / "log.json").write_text(json.dumps(info, indent=2) + "\n")
        (folder / "checkpoints.json").write_text(json.dumps([c.to_dict() for c in self.checkpoints], indent=2) + "\n")
        proofs = {
            "consistency": [{"from": p.old_size, "to": p.new_size, "hashes": [h.hex() for h in p.hashes]}
                            for p in self.proofs],
            "inclusion": [{"position": p.position, "tree_size": p.tree_size, "hashes": [h.hex() for h in p.hashes]}
                          for p in self.inclusions],
        }  # fmt: skip
        (folder / "proofs.json").write_text(json.dumps(proofs, indent=2) + "\n")
        _write_lines(folder / "history.jsonl", (_entry_json(e) for e in self.entries))
        if self.topic_messages is not None:
            _write_lines(folder / "topic.jsonl", (_message_json(m) for m in self.topic_messages))
        return folder

    @classmethod
    def load(cls, folder: Path) -> ServiceHistory:
        info = json.loads((folder / "log.json").read_text())
        history = cls(info["service"], info["log_id"], info["topic"], int(info["partitions"]), int(info["size"]),
                      info["public_key"])  # fmt: skip
        history.checkpoints = [
            SignedCheckpoint.from_dict(c) for c in json.loads((folder / "checkpoints.json").read_text())
        ]
        proofs = json.loads((folder / "proofs.json").read_text())
        history.proofs = [ServedProof(p["from"], p["to"], _hashes(p)) for p in proofs["consistency"]]
        history.inclusions = [ServedInclusion(p["position"], p["tree_size"], _hashes(p)) for p in proofs["inclusion"]]
        history.entries = [_entry_of(line) for line in _read_lines(folder / "history.jsonl")]
        topic = folder / "topic.jsonl"
        if topic.exists():
            history.topic_messages = [_message_of(line) for line in _read_lines(topic)]
        return history


def _hashes(proof: dict[str, Any]) -> tuple[bytes, ...]:
    return tuple(bytes.fromhex(h) for h in proof["hashes"])


def exported_services(directory: Path) -> list[str]:
    return sorted(p.parent.name for p in directory.glob("*/log.json"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {"position": entry.position, "notification_id": entry.notification_id, "canonical": _b64(entry.canonical),
            "entry_hash": entry.entry_hash.hex(), "envelope": _b64(entry.envelope)}  # fmt: skip


def _entry_of(data: dict[str, Any]) -> AuditEntry:
    return AuditEntry(int(data["position"]), int(data["notification_id"]), base64.b64decode(data["canonical"]),
                      bytes.fromhex(data["entry_hash"]), base64.b64decode(data["envelope"]))  # fmt: skip


def _message_json(message: TopicMessage) -> dict[str, Any]:
    return {"partition": message.partition, "offset": message.offset, "value": _b64(message.value)}


def _message_of(data: dict[str, Any]) -> TopicMessage:
    return TopicMessage(int(data["partition"]), int(data["offset"]), base64.b64decode(data["value"]))


def _write_lines(path: Path, rows: Iterator[dict[str, Any]]) -> None:
    with path.open("w") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


@dataclass(frozen=True, slots=True)
class ServiceAddress:
    service: str
    grpc_address: str
    http_url: str


class LiveFetcher:
    """Reads a running service's audit log over gRPC (history, checkpoints), its served proofs over
    HTTP, and its topic from the broker, as an auditor (bearer token)."""

    def __init__(self, token: str, bus_settings: BusSettings | None, progress: Progress) -> None:
        self.metadata = [("authorization", f"Bearer {token}")]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.bus_settings = bus_settings
        self.progress = progress

    async def fetch(self, address: ServiceAddress) -> ServiceHistory:
        async with grpc.aio.insecure_channel(address.grpc_address) as channel:
            stub = audit_pb2_grpc.AuditLogStub(channel)
            info = await stub.GetLogInfo(pb.LogInfoRequest(), metadata=self.metadata, timeout=30)
            history = ServiceHistory(address.service, info.log_id, info.topic, info.partitions, info.size,
                                     info.public_key)  # fmt: skip
            history.checkpoints = [checkpoint_of(c) async for c in stub.ListCheckpoints(
                pb.ListCheckpointsRequest(), metadata=self.metadata, timeout=60)]  # fmt: skip
            stage = f"{address.service} history"
            async for entry in stub.StreamHistory(pb.StreamHistoryRequest(), metadata=self.metadata):
                history.entries.append(AuditEntry(entry.position, entry.notification_id, entry.canonical,
                                                  entry.entry_hash, entry.envelope))  # fmt: skip
                if len(history.entries) % 500 == 0:
                    self.progress(stage, len(history.entries), info.size)
            self.progress(stage, len(history.entries), info.size)
        history.proofs, history.inclusions = await self._proofs(address, history.checkpoints)
        if self.bus_settings is not None:
            history.topic_messages = await self._topic(address.service, history.topic)
        return history

    async def _proofs(
        self, address: ServiceAddress, checkpoints: list[SignedCheckpoint]
    ) -> tuple[list[ServedProof], list[ServedInclusion]]:
        """Consistency proofs between successive checkpoints, and the inclusion of each one's last entry."""
        sizes = sorted({c.tree_head.tree_size for c in checkpoints} - {0})
        consistency, inclusion = [], []
        async with httpx.AsyncClient(base_url=address.http_url, headers=self.headers, timeout=30) as client:
            for old, new in itertools.pairwise(sizes):
                response = await client.get("/audit/proofs/consistency", params={"from": old, "to": new})
                if response.status_code == 200:  # a refusal shows as a missing proof
                    consistency.append(ServedProof(old, new, _hashes(response.json())))
            for size in sizes:
                response = await client.get("/audit/proofs/inclusion", params={"position": size - 1, "tree_size": size})
                if response.status_code == 200:
                    inclusion.append(ServedInclusion(size - 1, size, _hashes(response.json())))
        return consistency, inclusion

    async def _topic(self, service: str, topic: str) -> list[TopicMessage]:
        assert self.bus_settings is not None
        messages: list[TopicMessage] = []
        async for batch in bus.read_from_beginning(self.bus_settings, [topic], idle_seconds=2.0):
            messages.extend(TopicMessage(r.partition, r.offset, r.value or b"") for r in batch)
            self.progress(f"{service} topic", len(messages), None)
        return messages
