"""A realistic, reproducible history for the replay benchmark, as the services would publish it.

Members co-own assets (1-4 owners each, some shares later transferred), inventors
hold contributions, licenses cover assets, and most events are cash receipts. Receipts
are published as they arrive, day by day over two years: most within ten days of the
day they were received, one in twenty one to four months late (a royalty report for an
earlier quarter), so a period closed a few days after its end learns some of its
receipts only later.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from google.protobuf.message import Message

from ipshare.envelope import event_id
from ipshare_contracts.commercialization.v1 import events_pb2 as commercialization
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry

START = date(2025, 1, 1)
DAYS = 730


@dataclass(frozen=True)
class Published:
    topic: str
    key: bytes
    value: bytes
    arrived: date = START  # when the service published it


def _split(rng: random.Random, parts: int) -> list[int]:
    cuts = sorted(rng.sample(range(1, 10_000), parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True)]


def _shares(rng: random.Random, members: list[str]) -> list[registry.OwnerShare]:
    split = _split(rng, len(members))
    return [registry.OwnerShare(member_id=m, share_bps=s) for m, s in zip(members, split, strict=True)]


class HistoryWriter:
    def __init__(self, source: str, topic: str) -> None:
        self.source, self.topic, self.position = source, topic, 0
        self.versions: dict[str, int] = {}

    def emit(self, aggregate_id: str, payload: Message, effective: date, arrived: date = START) -> Published:
        self.position += 1
        version = self.versions[aggregate_id] = self.versions.get(aggregate_id, 0) + 1
        envelope = EventEnvelope(
            event_id=event_id(self.source, aggregate_id, version), source=self.source,
            type=payload.DESCRIPTOR.full_name, aggregate_id=aggregate_id, aggregate_version=version,
            position=self.position, effective_date=effective.isoformat(), principal="service:benchmark",
        )  # fmt: skip
        envelope.occurred_at.FromDatetime(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.position))
        envelope.payload.Pack(payload)
        return Published(self.topic, aggregate_id.encode(), envelope.SerializeToString(), arrived)


def generate(events: int, seed: int = 7) -> Iterator[Published]:
    """About 1% registry facts, the rest receipts under licenses."""
    rng = random.Random(seed)
    ids = lambda n: [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]  # noqa: E731
    members, assets = ids(40), ids(max(10, events // 500))
    licenses = ids(max(10, events // 250))
    reg = HistoryWriter("ip-registry", "ipshare.ip-registry.v1")
    com = HistoryWriter("commercialization", "ipshare.commercialization.v1")
    for member in members:
        yield reg.emit(member, registry.MemberAdmitted(name=f"member {member[:8]}", kind="university"), START)
    for asset in assets:
        owners = rng.sample(members, rng.randint(1, 4))
        inventors = ids(rng.randint(1, 4))
        yield reg.emit(asset, registry.AssetRegistered(
            title=f"asset {asset[:8]}", kind="invention_patent", jurisdiction="CN", registered_by=owners[0],
            inventors=[registry.Inventor(researcher_id=r, contribution_bps=c, affiliation_member_id=owners[0])
                       for r, c in zip(inventors, _split(rng, len(inventors)), strict=True)],
            owners=[registry.OwnerShare(member_id=m, share_bps=s)
                    for m, s in zip(owners, _split(rng, len(owners)), strict=True)],
            effective_date=START.isoformat()), START)  # fmt: skip
        shares = [
            registry.OwnerShare(member_id=m, share_bps=s) for m, s in zip(owners, _split(rng, len(owners)), strict=True)
        ]
        yield reg.emit(asset, registry.OwnershipEffective(owners=shares, effective_date=START.isoformat()), START)
        if rng.random() < 0.1:  # a later transfer: the owners change part-way through the history
            moved = START + timedelta(days=rng.randrange(DAYS))
            buyers = rng.sample(members, rng.randint(1, 4))
            shares = [
                registry.OwnerShare(member_id=m, share_bps=s)
                for m, s in zip(buyers, _split(rng, len(buyers)), strict=True)
            ]
            yield reg.emit(asset, registry.SharesTransferred(owners=shares, effective_date=moved.isoformat()), moved)
    license_assets = {lic: rng.sample(assets, rng.randint(1, 3)) for lic in licenses}
    receipts = events - reg.position
    for n in range(receipts):
        lic = licenses[n % len(licenses)]
        arrived = START + timedelta(days=n * DAYS // receipts)
        late = rng.random() < 0.05
        received = max(START, arrived - timedelta(days=rng.randint(30, 120) if late else rng.randint(0, 10)))
        currency = "CNY" if rng.random() < 0.8 else "USD"
        yield com.emit(ids(1)[0], commercialization.RevenueReceived(
            license_id=lic, asset_ids=license_assets[lic], kind="royalty",
            amount={"amount": rng.randint(1_000, 5_000_000), "currency": currency},
            effective_date=received.isoformat(), payer_reference=f"INV-{n}"), received, arrived)  # fmt: skip
