"""The audit log of one service: its event store's notification log, hash-chained and checkpointed.

Each stored event gets a dense position in log order, its canonical bytes (``ipshare.audit``) are
chained and added to a Merkle tree, and the position, leaf hash and entry hash are kept in the
``audit_chain`` table when the event is first chained. A position belongs to the event's identity
(aggregate id and version), not to its row: so a later edit of the row shows as a changed entry, a
deleted row as a missing position, and swapped rows as entries out of order.

Periodically a tree head over the chained entries is signed with the service's Ed25519 key and
recorded as an ``AuditCheckpoint`` event: it is kept in the event store, published on the service's
topic by the relay like any other event, and itself becomes an entry of the log that the next
checkpoint covers.

History is always served from the event store as it is *now*, with the hashes recorded then, so an
auditor's check shows what changed since.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic
from sqlalchemy import BigInteger, Column, LargeBinary, MetaData, String, Table, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.audit import CanonicalEvent, HashChain, MerkleTree, SignedCheckpoint, leaf_hash
from ipshare.audit.checkpoint import CheckpointSigner, key_id_of, load_private_key, public_key_base64
from ipshare.auth import Principal, Role
from ipshare.envelope import EventCatalog
from ipshare.eventstore import CommandContext, ServiceApplication, recorded_metadata
from ipshare.follower import Follower
from ipshare.observability import log
from ipshare.settings import DEV_MODE_VARIABLE, ServiceSettings
from ipshare_kernel.actor import Attribution
from ipshare_kernel.errors import DomainError, NotFound

CHECKPOINT_NAMESPACE = uuid.UUID("0c7d9a52-3f4e-4b8a-9e1d-5a6b7c8d9e0f")
CHECKPOINTER = CommandContext(Principal(Role.SERVICE, "audit-checkpoints"), correlation_id="audit-checkpoint")
_BATCH = 1000
_BEFORE_ANY_ID = -(2**62)
UNCHAINED = -1  # the position served for a stored event the chain never saw: it was inserted afterwards

audit_metadata = MetaData()
audit_chain = Table(
    "audit_chain",
    audit_metadata,
    Column("position", BigInteger, primary_key=True),
    Column("notification_id", BigInteger, nullable=False, unique=True),
    Column("originator_id", String, nullable=False),
    Column("originator_version", BigInteger, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Column("entry_hash", LargeBinary, nullable=False),
    UniqueConstraint("originator_id", "originator_version"),
)


class AuditCheckpoint(Aggregate):
    """One signed checkpoint of the service's own log, kept as an event of that log."""

    class Signed(Aggregate.Created):
        log_id: str
        tree_size: int
        root_hash: str
        chain_head: str
        signed_at: str
        signature: str
        key_id: str

    @staticmethod
    def create_id(log_id: str, tree_size: int, **_: Any) -> uuid.UUID:
        return uuid.uuid5(CHECKPOINT_NAMESPACE, f"{log_id}/{tree_size}")

    @event(Signed)
    def __init__(
        self, log_id: str, tree_size: int, root_hash: str, chain_head: str, signed_at: str, signature: str,
        key_id: str,
    ) -> None:  # fmt: skip
        self.log_id, self.tree_size = log_id, tree_size
        self.root_hash, self.chain_head, self.signed_at = root_hash, chain_head, signed_at
        self.signature, self.key_id = signature, key_id

    @classmethod
    def of(cls, checkpoint: SignedCheckpoint) -> AuditCheckpoint:
        fields = checkpoint.to_dict()
        fields["signed_at"] = fields.pop("timestamp")
        return cls(**fields)  # type: ignore[arg-type]  # to_dict's values are typed str | int

    def signed(self) -> SignedCheckpoint:
        return SignedCheckpoint.from_dict(checkpoint_fields(vars(self)))


def checkpoint_fields(state: dict[str, Any]) -> dict[str, str | int]:
    """A checkpoint event's state (or payload as a dict) in ``SignedCheckpoint.from_dict``'s terms."""
    keys = ("log_id", "tree_size", "root_hash", "chain_head", "signature", "key_id")
    fields: dict[str, str | int] = {k: state[k] for k in keys}
    fields["timestamp"] = state["signed_at"]
    return fields


CHECKPOINT_TOPIC = get_topic(AuditCheckpoint.Signed)


def signing_key(settings: ServiceSettings, service: str) -> Ed25519PrivateKey:
    """The key from AUDIT_SIGNING_KEY, or in development mode one derived from JWT_SECRET and the
    service: anyone with that (development) secret could sign such checkpoints, so not elsewhere."""
    if settings.audit_signing_key:
        return load_private_key(settings.audit_signing_key)
    if not settings.ipshare_dev_mode:
        raise ValueError(f"set AUDIT_SIGNING_KEY: a key derived from JWT_SECRET is for {DEV_MODE_VARIABLE}=true only")
    seed = sha256(f"ipshare.audit.development-key/{service}/{settings.jwt_secret}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


@dataclass(frozen=True, slots=True)
class ChainRow:
    position: int
    notification_id: int
    originator_id: str
    originator_version: int
    leaf_hash: bytes
    entry_hash: bytes


class ChainStore(Protocol):
    """Where the chain's rows are kept (PostgreSQL in a service, a list in unit tests)."""

    async def load(self) -> list[ChainRow]: ...

    async def append(self, rows: Sequence[ChainRow]) -> None: ...


class SqlChainStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def load(self) -> list[ChainRow]:
        async with self.engine.begin() as conn:
            result = await conn.execute(select(audit_chain).order_by(audit_chain.c.position))
            return [ChainRow(**row._mapping) for row in result]

    async def append(self, rows: Sequence[ChainRow]) -> None:
        if rows:
            async with self.engine.begin() as conn:
                await conn.execute(audit_chain.insert(), [vars_of(row) for row in rows])


class MemoryChainStore:
    def __init__(self) -> None:
        self.rows: list[ChainRow] = []

    async def load(self) -> list[ChainRow]:
        return list(self.rows)

    async def append(self, rows: Sequence[ChainRow]) -> None:
        self.rows.extend(rows)


def vars_of(row: ChainRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in ChainRow.__slots__}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the log as served: the event as stored now, the hash recorded when it was chained."""

    position: int
    notification_id: int
    canonical: bytes
    entry_hash: bytes
    envelope: bytes  # empty when the service does not publish that kind of event

    @property
    def chained(self) -> bool:
        return self.position != UNCHAINED

    @property
    def event(self) -> CanonicalEvent:
        return CanonicalEvent.from_bytes(self.canonical)

    @property
    def attribution(self) -> Attribution:
        """Who recorded the event, as its stored state says: the bytes the chain covers."""
        return Attribution.of(recorded_metadata(self.event.state))


class AuditLog:
    """The chained log of one service, its Merkle tree in memory, and its checkpoints."""

    def __init__(
        self,
        app: ServiceApplication,
        catalog: EventCatalog,
        store: ChainStore,
        signer: CheckpointSigner,
        *,
        topic: str = "",
        partitions: int = 1,
    ) -> None:
        self.app, self.catalog, self.store, self.signer = app, catalog, store, signer
        self.topic, self.partitions = topic, partitions
        self._reset()

    def _reset(self) -> None:
        self.tree = MerkleTree()
        self.chain = HashChain()
        self._entry_hashes: list[bytes] = []
        self._notification_ids: list[int] = []
        self._positions: dict[tuple[str, int], int] = {}
        self.signed_size = 0
        self._last_content = -1  # the last position that is not itself a checkpoint

    @property
    def log_id(self) -> str:
        return self.signer.log_id

    @property
    def size(self) -> int:
        return len(self._notification_ids)

    async def load(self) -> None:
        """Read the chain kept so far, and the size of the last checkpoint."""
        self._reset()
        for row in await self.store.load():
            self._remember(row)
        self._last_content = self.size - 1  # unknown before a restart: sign once more rather than never
        checkpoints = await asyncio.to_thread(self.checkpoints)
        self.signed_size = checkpoints[-1].tree_head.tree_size if checkpoints else 0

    async def advance(self) -> int:
        """Chain the events stored since the last call; returns how many."""
        after = self._notification_ids[-1] if self._notification_ids else 0
        notifications = await asyncio.to_thread(self.app.notifications_after, after, _BATCH)
        rows: list[ChainRow] = []
        head = self.chain.head
        for offset, notification in enumerate(notifications):
            canonical = self.canonical(notification, self.size + offset)
            head = HashChain(head).append(canonical)
            rows.append(ChainRow(self.size + offset, notification.id, str(notification.originator_id),
                                 notification.originator_version, leaf_hash(canonical), head))  # fmt: skip
        await self.store.append(rows)
        for row, notification in zip(rows, notifications, strict=True):
            self._remember(row)
            if notification.topic != CHECKPOINT_TOPIC:
                self._last_content = row.position
        return len(rows)

    def _remember(self, row: ChainRow) -> None:
        self.tree.append_leaf_hash(row.leaf_hash)
        self.chain = HashChain(row.entry_hash, self.chain.size + 1)
        self._entry_hashes.append(row.entry_hash)
        self._notification_ids.append(row.notification_id)
        self._positions[(row.originator_id, row.originator_version)] = row.position

    def canonical(self, stored: StoredEvent, position: int) -> bytes:
        return CanonicalEvent(position, str(stored.originator_id), stored.originator_version,
                              self.type_name(stored.topic), bytes(stored.state)).to_bytes()  # fmt: skip

    def type_name(self, topic: str) -> str:
        """The published type name; the stored topic for events the service keeps to itself."""
        with contextlib.suppress(Exception):  # a topic edited into something unresolvable
            return self.catalog.type_name(resolve_topic(topic)) or topic
        return topic

    async def checkpoint(self, now: datetime | None = None) -> SignedCheckpoint | None:
        """Sign and record a tree head over every chained entry, if anything but checkpoints came since."""
        size = self.size
        if size == 0 or self._last_content < self.signed_size:
            return None
        signed = self.signer.sign(size, self.tree.root(size), self.chain.head, now or datetime.now(UTC))
        try:
            await asyncio.to_thread(self.app.record, CHECKPOINTER, AuditCheckpoint.of(signed))
        except IntegrityError:  # another process signed this size first
            log.warning("audit checkpoint already recorded", log_id=self.log_id, tree_size=size)
        self.signed_size = size
        return signed

    def checkpoints(self) -> list[SignedCheckpoint]:
        """Every checkpoint kept in the event store, oldest first (blocking: run in a thread)."""
        found: list[SignedCheckpoint] = []
        position = 0
        while batch := self.app.recorder.select_notifications(
            position, _BATCH, topics=[CHECKPOINT_TOPIC], inclusive_of_start=False
        ):
            for notification in batch:
                domain_event, _ = self.app.metadata_mapper.decode(notification)
                found.append(SignedCheckpoint.from_dict(checkpoint_fields(vars(domain_event))))
            position = batch[-1].id
        return found

    def history(
        self, from_position: int = 0, limit: int | None = None, *, after: int | None = None
    ) -> list[AuditEntry]:
        """Entries from a position in log order, as stored now (blocking: run in a thread).

        ``after`` resumes a paged read after the notification id of the last entry served: pages by
        position could skip an entry that a tampered log holds out of order.
        """
        return list(self._iter_history(from_position, limit, after))

    def _iter_history(self, from_position: int, limit: int | None, after: int | None) -> Iterable[AuditEntry]:
        size = self.size
        if not 0 <= from_position < size:
            return
        last = self._notification_ids[size - 1]
        if after is None:  # from the start: also rows slipped in below the first id, where nothing should be
            after = self._notification_ids[from_position] - 1 if from_position else _BEFORE_ANY_ID
        served = 0
        while limit is None or served < limit:
            batch = self.app.notifications_after(after, _BATCH)
            for notification in batch:
                if notification.id > last or (limit is not None and served >= limit):
                    return
                position = self._positions.get((str(notification.originator_id), notification.originator_version))
                if position is not None and position < from_position:
                    continue  # an entry before the range asked for (out of place in a tampered log)
                yield self.entry(notification, position, notification.id)
                served += 1
            if len(batch) < _BATCH:
                return
            after = batch[-1].id

    def aggregate_history(self, aggregate_id: uuid.UUID) -> list[AuditEntry]:
        """The entries of one aggregate, in version order (blocking: run in a thread). Stored events that
        were never chained are included as unchained entries: they were added behind the log's back."""
        entries = []
        size = self.size
        for stored in self.app.recorder.select_events(aggregate_id):
            position = self._positions.get((str(stored.originator_id), stored.originator_version))
            if position is None:
                entries.append(self.entry(stored, None, 0))
            elif position < size:
                entries.append(self.entry(stored, position, self._notification_ids[position]))
        if not entries:
            raise NotFound(f"no audited events of aggregate {aggregate_id}", aggregate_id=str(aggregate_id))
        return entries

    def entry(self, stored: StoredEvent, position: int | None, notification_id: int) -> AuditEntry:
        """The entry as served; an event the chain does not know gets position UNCHAINED and no hash."""
        if position is None:
            return AuditEntry(UNCHAINED, notification_id, self.canonical(stored, 0), b"",
                              self.envelope(stored, notification_id))  # fmt: skip
        return AuditEntry(position, notification_id, self.canonical(stored, position),
                          self._entry_hashes[position], self.envelope(stored, notification_id))  # fmt: skip

    def envelope(self, stored: StoredEvent, notification_id: int) -> bytes:
        """What the relay publishes for this event as stored now; empty if unpublished or unreadable."""
        try:
            domain_event, meta = self.app.metadata_mapper.decode(stored)
            if not self.catalog.publishes(domain_event):
                return b""
            return self.catalog.envelope(notification_id, domain_event, meta).SerializeToString(deterministic=True)
        except Exception:  # an edited row may no longer decode: the chain check names it
            return b""

    def inclusion_proof(self, position: int, tree_size: int) -> list[bytes]:
        self._check_size(tree_size)
        if not 0 <= position < tree_size:
            raise DomainError(f"position {position} is outside a tree of {tree_size} entries",
                              position=position, tree_size=tree_size)  # fmt: skip
        return self.tree.inclusion_proof(position, tree_size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise DomainError(f"a tree of {new_size} entries cannot extend one of {old_size}",
                              old_size=old_size, new_size=new_size)  # fmt: skip
        return self.tree.consistency_proof(old_size, new_size)

    def _check_size(self, tree_size: int) -> None:
        if not 0 <= tree_size <= self.size:
            raise DomainError(f"the log has {self.size} entries, not {tree_size}", tree_size=tree_size)

    def public_key_base64(self) -> str:
        return public_key_base64(self.signer.public_key)

    def key_id(self) -> str:
        return key_id_of(self.signer.public_key)


class Checkpointer:
    """Chains new events as they are saved and signs a checkpoint every ``checkpoint_seconds``.

    The steps of a `Follower` (woken by every save, polled every ``poll_seconds``, failures retried
    with backoff); one process at a time runs it, the leader (a second would find the chain's
    positions taken, and fail rather than fork the chain)."""

    name = "audit-checkpoints"

    def __init__(self, audit: AuditLog, *, poll_seconds: float = 1.0, checkpoint_seconds: float = 30.0) -> None:
        self.audit = audit
        self.checkpoint_seconds = checkpoint_seconds
        self.follower = Follower(self, poll_seconds=min(poll_seconds, checkpoint_seconds))
        self._due = 0.0

    def wake_threadsafe(self, loop: asyncio.AbstractEventLoop) -> None:
        self.follower.wake_threadsafe(loop)

    async def run(self) -> None:
        await self.follower.run()

    async def start(self) -> None:
        """Read the chain kept so far: nothing may be chained before the past is read."""
        await self.audit.load()
        self._due = time.monotonic() + self.checkpoint_seconds
        log.info("audit log loaded", log_id=self.audit.log_id, size=self.audit.size)

    async def step(self) -> bool:
        more = await self.audit.advance() == _BATCH
        if not more and time.monotonic() >= self._due:
            await self.audit.checkpoint()
            self._due = time.monotonic() + self.checkpoint_seconds
        return more
