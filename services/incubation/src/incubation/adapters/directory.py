"""Members, researchers, assets and licenses, kept locally from the other services' topics.

`DirectoryProjection` is fed by the shared consumer (group `incubation.directory`) from
the IP registry's topic (`MemberAdmitted`, `ResearcherRegistered`, `AssetRegistered`
and the ownership changes `OwnershipEffective`, `SharesTransferred`,
`OwnershipAssignedOut`) and commercialization's (`LicenseDrafted`); each batch lands in
one transaction with the consumer's dedupe mark, and a re-delivered event changes
nothing. `ProjectedDirectory` answers the use cases' lookups from the same tables (the
application is synchronous, so through a small blocking pool).

An id created a moment ago may not have arrived yet: `PatientDirectory` polls for an id
it does not know for a few seconds (`REFERENCE_WAIT_SECONDS`) before the use case
refuses it with a 409 `unknown_reference` that says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Boolean, Column, Date, Engine, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from incubation.domain.references import Directory, KnownAsset, KnownLicense, KnownMember, KnownResearcher
from incubation.domain.references import OwnershipChange as Change
from ipshare import bus
from ipshare.consumer import InboundEvent
from ipshare.database import blocking_engine
from ipshare.envelope import PayloadDecoder
from ipshare.typed_fields import required_date_of, text_of
from ipshare_contracts.commercialization.v1 import events_pb2 as commercialization
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry

directory_metadata = MetaData()
known_members = Table(
    "known_members",
    directory_metadata,
    Column("member_id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("state_established", Boolean, nullable=False),
    Column("source_position", BigInteger, nullable=False),
)
known_researchers = Table(
    "known_researchers",
    directory_metadata,
    Column("researcher_id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("member_id", String, nullable=False),  # the affiliation when registered
    Column("source_position", BigInteger, nullable=False),
)
known_assets = Table(
    "known_assets",
    directory_metadata,
    Column("asset_id", String, primary_key=True),
    Column("title", String, nullable=False),
    Column("source_position", BigInteger, nullable=False),
)
known_ownership = Table(
    "known_ownership",
    directory_metadata,
    Column("asset_id", String, primary_key=True),
    Column("source_position", BigInteger, primary_key=True),  # the registry's log position: its order
    Column("effective_date", Date, nullable=False),
    Column("owners", JSONB, nullable=False),  # member id -> basis points; {} once assigned out
)
known_licenses = Table(
    "known_licenses",
    directory_metadata,
    Column("license_id", String, primary_key=True),
    Column("asset_ids", JSONB, nullable=False),
    Column("licensee", String, nullable=False),
    Column("source_position", BigInteger, nullable=False),
)

RELEVANT = (
    registry.MemberAdmitted,
    registry.ResearcherRegistered,
    registry.AssetRegistered,
    registry.OwnershipEffective,
    registry.SharesTransferred,
    registry.OwnershipAssignedOut,
    commercialization.LicenseDrafted,
)


def _row(inbound: InboundEvent) -> tuple[Table, dict[str, Any]] | None:
    """The table and row an event adds, or None when it adds none."""
    payload, ref, position = inbound.payload, inbound.envelope.aggregate_id, inbound.envelope.position
    match payload:
        case registry.MemberAdmitted():
            kind = text_of(payload, "member_kind")
            member = {"name": payload.name, "kind": kind, "state_established": payload.state_established}
            return known_members, {"member_id": ref, **member, "source_position": position}
        case registry.ResearcherRegistered():
            return known_researchers, {"researcher_id": ref, "name": payload.name, "member_id": payload.member_id,
                                       "source_position": position}  # fmt: skip
        case registry.AssetRegistered():
            return known_assets, {"asset_id": ref, "title": payload.title, "source_position": position}
        case registry.OwnershipEffective() | registry.SharesTransferred():
            owners = {o.member_id: o.share_bps for o in payload.owners}
            return known_ownership, {"asset_id": ref, "source_position": position, "owners": owners,
                                     "effective_date": required_date_of(payload, "effective_day")}  # fmt: skip
        case registry.OwnershipAssignedOut():
            return known_ownership, {"asset_id": ref, "source_position": position, "owners": {},
                                     "effective_date": required_date_of(payload, "effective_day")}  # fmt: skip
        case commercialization.LicenseDrafted():
            return known_licenses, {"license_id": ref, "asset_ids": list(payload.asset_ids),
                                    "licensee": payload.licensee, "source_position": position}  # fmt: skip
    return None


class DirectoryProjection:
    """Feeds the `known_*` tables from the IP registry's and commercialization's topics."""

    name: str = "directory"
    decoder: PayloadDecoder = PayloadDecoder(RELEVANT)

    def __init__(
        self,
        registry_topic: str = bus.topic_of("ip-registry"),
        commercialization_topic: str = bus.topic_of("commercialization"),
    ) -> None:
        self.topics: Sequence[str] = (registry_topic, commercialization_topic)

    async def apply(self, conn: AsyncConnection, events: Sequence[InboundEvent]) -> None:
        rows: dict[Table, list[dict[str, Any]]] = {}
        for inbound in events:
            if (found := _row(inbound)) is not None:
                rows.setdefault(found[0], []).append(found[1])
        for table, batch in rows.items():  # the first report of a fact wins: a re-sent one is the same
            keys = [c.name for c in table.primary_key.columns]
            await conn.execute(insert(table).on_conflict_do_nothing(index_elements=keys), batch)


class ProjectedDirectory:
    """The `Directory` of the use cases, read from the `known_*` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, database_url: str, pool_size: int = 5) -> ProjectedDirectory:
        return cls(blocking_engine(database_url, pool_size))

    def member(self, member_id: str) -> KnownMember | None:
        query = select(known_members.c.name, known_members.c.kind, known_members.c.state_established).where(
            known_members.c.member_id == member_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return KnownMember(member_id, row.name, row.kind, row.state_established) if row else None

    def researcher(self, researcher_id: str) -> KnownResearcher | None:
        query = select(known_researchers.c.name).where(known_researchers.c.researcher_id == researcher_id)
        with self.engine.connect() as conn:
            name = conn.scalar(query)
        return KnownResearcher(researcher_id, name) if name is not None else None

    def asset(self, asset_id: str) -> KnownAsset | None:
        changes = (
            select(known_ownership.c.effective_date, known_ownership.c.owners)
            .where(known_ownership.c.asset_id == asset_id)
            .order_by(known_ownership.c.source_position)
        )
        with self.engine.connect() as conn:
            title = conn.scalar(select(known_assets.c.title).where(known_assets.c.asset_id == asset_id))
            rows = conn.execute(changes).all() if title is not None else []
        if title is None:
            return None
        return KnownAsset(asset_id, title, tuple(Change(day, dict(owners)) for day, owners in rows))

    def license(self, license_id: str) -> KnownLicense | None:
        query = select(known_licenses.c.asset_ids, known_licenses.c.licensee).where(
            known_licenses.c.license_id == license_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return KnownLicense(license_id, frozenset(row.asset_ids), row.licensee) if row else None

    def close(self) -> None:
        self.engine.dispose()


T = TypeVar("T")


class PatientDirectory:
    """A directory that, for an id it does not know yet, looks again for a few seconds:
    an id created a moment ago is usually on its way from the other service's topic."""

    def __init__(self, inner: Directory, wait_seconds: float, poll_seconds: float = 0.1) -> None:
        self.inner = inner
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds

    def _patiently(self, lookup: Callable[[str], T | None], ref: str) -> T | None:
        deadline = time.monotonic() + self.wait_seconds
        while (found := lookup(ref)) is None and time.monotonic() < deadline:
            time.sleep(self.poll_seconds)
        return found

    def member(self, member_id: str) -> KnownMember | None:
        return self._patiently(self.inner.member, member_id)

    def researcher(self, researcher_id: str) -> KnownResearcher | None:
        return self._patiently(self.inner.researcher, researcher_id)

    def asset(self, asset_id: str) -> KnownAsset | None:
        return self._patiently(self.inner.asset, asset_id)

    def license(self, license_id: str) -> KnownLicense | None:
        return self._patiently(self.inner.license, license_id)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()
