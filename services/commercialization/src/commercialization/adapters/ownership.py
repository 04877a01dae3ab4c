"""Who owns an asset, kept locally from the IP registry's topic, and how it is asked.

The registry stays authoritative: a write that depends on ownership (granting a
license, proposing a sale, amending, terminating, reporting) asks it over gRPC first
and only falls back to this projection when it does not answer (`FallbackOwnership`).
Reads (a license, its royalty reports, its account, the licenses on an asset) answer
from the projection, so they keep working while the registry is down; only an asset the
projection has not heard of yet (registered a moment ago, or this service has just
started reading the topic) is asked of the registry (`ProjectionFirst`).

`OwnershipProjection` is fed by the shared consumer: each batch of the registry's
`AssetRegistered`, `OwnershipEffective`, `SharesTransferred` and `OwnershipAssignedOut`
lands in one transaction with the consumer's dedupe mark. Every change is kept as a row
with its effective date and log position, so ownership on any day is a fold over the
asset's rows (`domain/ownership.py`). The application is synchronous (eventsourcing
is), so `ProjectedOwnership` reads the same tables through a small blocking pool.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol

from prometheus_client import Counter
from sqlalchemy import BigInteger, Column, Date, Engine, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from commercialization.adapters.ip_registry_client import RegistryUnavailable
from commercialization.domain.ownership import OwnershipPeriod, owners_as_of, owners_during
from ipshare import bus
from ipshare.consumer import InboundEvent
from ipshare.database import blocking_engine
from ipshare.envelope import PayloadDecoder
from ipshare.observability import log
from ipshare.typed_fields import required_date_of
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry
from ipshare_kernel.errors import NotFound

OWNERSHIP_FALLBACKS = Counter(
    "ipshare_ownership_registry_fallbacks_total",
    "Ownership checks answered from the local projection because the IP registry did not answer",
)

ownership_metadata = MetaData()
registry_assets = Table(
    "registry_assets",
    ownership_metadata,
    Column("asset_id", String, primary_key=True),
    Column("registered_on", Date, nullable=False),
    Column("source_position", BigInteger, nullable=False),
)
asset_ownership = Table(
    "asset_ownership",
    ownership_metadata,
    Column("asset_id", String, primary_key=True),
    Column("source_position", BigInteger, primary_key=True),  # the registry's log position: its order
    Column("effective_date", Date, nullable=False),
    Column("owners", JSONB, nullable=False),  # member id -> share in basis points; {} once assigned out
    Column("cause", String, nullable=False),  # registration | transfer | assignment
)

RELEVANT = (
    registry.AssetRegistered,
    registry.OwnershipEffective,
    registry.SharesTransferred,
    registry.OwnershipAssignedOut,
)


def _change_of(inbound: InboundEvent) -> dict[str, Any] | None:
    """The ownership row an event states, or None when it states none."""
    payload = inbound.payload
    match payload:
        case registry.OwnershipEffective():
            owners, cause = {o.member_id: o.share_bps for o in payload.owners}, "registration"
        case registry.SharesTransferred():
            owners, cause = {o.member_id: o.share_bps for o in payload.owners}, "transfer"
        case registry.OwnershipAssignedOut():
            owners, cause = {}, "assignment"  # no member owns it from that day
        case _:
            return None
    return {
        "asset_id": inbound.envelope.aggregate_id,
        "source_position": inbound.envelope.position,
        "effective_date": required_date_of(payload, "effective_day"),
        "owners": owners,
        "cause": cause,
    }


class OwnershipProjection:
    """Feeds `asset_ownership` and `registry_assets` from the IP registry's topic."""

    name: str = "ownership"
    decoder: PayloadDecoder = PayloadDecoder(RELEVANT)

    def __init__(self, topic: str = bus.topic_of("ip-registry")) -> None:
        self.topics: Sequence[str] = (topic,)

    async def apply(self, conn: AsyncConnection, events: Sequence[InboundEvent]) -> None:
        assets, changes = [], []
        for inbound in events:
            if isinstance(inbound.payload, registry.AssetRegistered):
                assets.append(
                    {
                        "asset_id": inbound.envelope.aggregate_id,
                        "registered_on": required_date_of(inbound.payload, "effective_day"),
                        "source_position": inbound.envelope.position,
                    }
                )
            elif (change := _change_of(inbound)) is not None:
                changes.append(change)
        # A change re-published at the same position is the same change: keep the first.
        if assets:
            await conn.execute(insert(registry_assets).on_conflict_do_nothing(index_elements=["asset_id"]), assets)
        if changes:
            keys = ["asset_id", "source_position"]
            await conn.execute(insert(asset_ownership).on_conflict_do_nothing(index_elements=keys), changes)


class ProjectedOwnership:
    """An `OwnershipRecord` answering from the projection: for reads, and when the registry is down."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, database_url: str, pool_size: int = 5) -> ProjectedOwnership:
        return cls(blocking_engine(database_url, pool_size))

    def knows(self, asset_id: uuid.UUID) -> bool:
        """Whether the registry's topic has told this service of the asset."""
        with self.engine.connect() as conn:
            found = conn.scalar(select(registry_assets.c.asset_id).where(registry_assets.c.asset_id == str(asset_id)))
        return found is not None

    def history(self, asset_id: uuid.UUID) -> list[OwnershipPeriod]:
        """The asset's ownership changes in the registry's order (empty: none learned yet)."""
        query = (
            select(asset_ownership.c.effective_date, asset_ownership.c.owners, asset_ownership.c.cause)
            .where(asset_ownership.c.asset_id == str(asset_id))
            .order_by(asset_ownership.c.source_position)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            OwnershipPeriod(day, {uuid.UUID(m): int(bps) for m, bps in owners.items()}, cause)
            for day, owners, cause in rows
        ]

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> dict[uuid.UUID, int]:
        """Shares in force on a day; NotFound when the asset is unknown here (like the registry)."""
        history = self.history(asset_id)
        if not history and not self.knows(asset_id):
            raise NotFound(f"asset {asset_id} is not known from the IP registry's topic", asset_id=str(asset_id))
        return owners_as_of(history, as_of)

    def owners_during(self, asset_id: uuid.UUID, start: date, end: date) -> set[uuid.UUID]:
        """Every member that held a share on some day from `start` to `end` (none for an unknown asset)."""
        return owners_during(self.history(asset_id), start, end)

    def close(self) -> None:
        self.engine.dispose()


class _Lookup(Protocol):
    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]: ...

    def close(self) -> None: ...


class FallbackOwnership:
    """Asks the registry (authoritative); when it does not answer, the local projection, and says so."""

    def __init__(self, registry: _Lookup, projection: ProjectedOwnership) -> None:
        self.registry = registry
        self.projection = projection

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        try:
            return self.registry.owners_as_of(asset_id, as_of)
        except RegistryUnavailable as unavailable:
            try:
                owners = self.projection.owners_as_of(asset_id, as_of)
            except NotFound:
                raise unavailable from None  # nothing learned about it either: still a 503
            OWNERSHIP_FALLBACKS.inc()
            log.warning(
                "IP registry unavailable; ownership taken from the local projection of its topic",
                asset_id=str(asset_id), as_of=as_of.isoformat(), error=unavailable.message,
            )  # fmt: skip
            return owners

    def close(self) -> None:
        self.registry.close()
        self.projection.close()


class ProjectionFirst:
    """The `OwnershipRecord` of reads: the projection, or, for an asset it has not heard of
    yet, the registry (a 503 while the registry does not answer either)."""

    def __init__(self, projection: ProjectedOwnership, registry: _Lookup) -> None:
        self.projection = projection
        self.registry = registry

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        try:
            return self.projection.owners_as_of(asset_id, as_of)
        except NotFound:
            return self._from_registry(asset_id, as_of)

    def owners_during(self, asset_id: uuid.UUID, start: date, end: date) -> set[uuid.UUID]:
        if end < start:
            return set()
        history = self.projection.history(asset_id)
        if history or self.projection.knows(asset_id):
            return owners_during(history, start, end)
        days = {start, end}  # the registry answers day by day: the span's first and last
        return {m for day in days for m, share in self._from_registry(asset_id, day).items() if share > 0}

    def _from_registry(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        try:
            return self.registry.owners_as_of(asset_id, as_of)
        except NotFound:  # the registry does not know it either: nobody owns it
            return {}

    def close(self) -> None:
        self.registry.close()
        self.projection.close()
