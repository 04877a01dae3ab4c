"""A realistic, reproducible history for the replay benchmark, as the services would publish it.

Members co-own assets (1-4 owners each, some shares later transferred), inventors
hold contributions, members pay patent costs on some assets, licenses cover assets, and
most events are cash receipts, some of them licensees reimbursing patent costs. Receipts
are published as they arrive, day by day over two years: most within ten days of the
day they were received, one in twenty one to four months late (a royalty report for an
earlier quarter), so a period closed a few days after its end learns some of its
receipts only later. Part way through, the relay publishes a batch of a thousand
messages a second time (as after a crash between publishing and storing its position).

`policies` gives the distribution policies revenue-share holds over that history: two
center versions (cost recovery, an operating fee, researchers' brackets by cumulative
income) and member splits, some with brackets of their own.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from google.protobuf.message import Message

from ipshare.envelope import event_id
from ipshare.typed_fields import fill_typed
from ipshare_contracts.commercialization.v1 import events_pb2 as commercialization
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry
from ipshare_contracts.money.v1.money_pb2 import Money
from revenue_share.domain.policy import CenterPolicy, MemberPolicy, ResearcherBracket, SplitBracket
from revenue_share.domain.policy_versions import Policy

START = date(2024, 1, 1)  # two years that are over: every close of the history is in the past
DAYS = 731
MEMBERS = 40
RESENT = 1_000  # messages the relay publishes twice, part way through


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
        envelope.occurred_at.FromDatetime(datetime(START.year, 1, 1, tzinfo=UTC) + timedelta(seconds=self.position))
        fill_typed(envelope)  # as a service's catalog writes them: typed dates and kinds beside the text
        fill_typed(payload)
        envelope.payload.Pack(payload)
        return Published(self.topic, aggregate_id.encode(), envelope.SerializeToString(), arrived)


class _Later:
    """Registry facts that happen after the start (transfers, costs), published when they do:
    a relay publishes in its log's order, so each is written to the log (`emit`) only then."""

    def __init__(self, writer: HistoryWriter) -> None:
        self._writer = writer
        self._heap: list[tuple[date, int, str, Message]] = []

    def __len__(self) -> int:
        return len(self._heap)

    def put(self, day: date, aggregate_id: str, payload: Message) -> None:
        heapq.heappush(self._heap, (day, len(self._heap), aggregate_id, payload))

    def due(self, day: date) -> Iterator[Published]:
        while self._heap and self._heap[0][0] <= day:
            happened, _, aggregate_id, payload = heapq.heappop(self._heap)
            yield self._writer.emit(aggregate_id, payload, happened, happened)


def _ids(rng: random.Random, n: int) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]


def policies(seed: int = 7) -> list[Policy]:
    """The center's two versions and ten members' own splits, all recorded before the first close."""
    members = _ids(random.Random(seed), MEMBERS)  # the same members as `generate`'s
    recorded = datetime(START.year, 1, 1, tzinfo=UTC)
    found: list[Policy] = [
        CenterPolicy(f"center-{START.year}", START, recorded, fee_bps=1_000, recover_costs=True,
                     researcher_brackets=(ResearcherBracket(0, 5_000), ResearcherBracket(50_000_000, 6_000, "CNY"))),
        CenterPolicy(f"center-{START.year + 1}", date(START.year + 1, 1, 1), recorded + timedelta(days=300),
                     fee_bps=1_500, recover_costs=True, cost_cap_bps=5_000,
                     researcher_brackets=(ResearcherBracket(0, 5_000), ResearcherBracket(20_000_000, 5_500, "CNY"),
                                          ResearcherBracket(3_000_000, 5_500, "USD"),
                                          ResearcherBracket(100_000_000, 6_500, "CNY"))),
    ]  # fmt: skip
    for n, member in enumerate(members[:10]):
        brackets = [SplitBracket(0, {"member": 7_000, "inventors": 3_000})]
        if n % 2:
            brackets.append(SplitBracket(30_000_000, {"member": 5_000, "inventors": 2_000, "department": 3_000}, "CNY"))
        found.append(MemberPolicy(f"member-{n}", member, START, recorded, tuple(brackets)))
    return found


def generate(events: int, seed: int = 7) -> Iterator[Published]:
    """About 1% registry facts, the rest receipts under licenses; one batch published twice."""
    rng = random.Random(seed)

    def ids(n: int) -> list[str]:
        return _ids(rng, n)

    members, assets = ids(MEMBERS), ids(max(10, events // 500))
    licenses = ids(max(10, events // 250))
    reg = HistoryWriter("ip-registry", "ipshare.ip-registry.v1")
    com = HistoryWriter("commercialization", "ipshare.commercialization.v1")
    later = _Later(reg)
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
            later.put(moved, asset, registry.SharesTransferred(owners=shares, effective_date=moved.isoformat()))
        if rng.random() < 0.2:  # patent costs, paid by an owner, to be recovered from the asset's income
            for cost_id in ids(rng.randint(1, 3)):
                paid = START + timedelta(days=rng.randrange(DAYS // 2))
                later.put(paid, asset, registry.CostRecorded(
                    cost_id=cost_id, kind="annuity",
                    amount=Money(amount=rng.randint(100_000, 2_000_000), currency="CNY"),
                    paid_by=rng.choice(owners), effective_date=paid.isoformat()))  # fmt: skip
    license_assets = {lic: rng.sample(assets, rng.randint(1, 3)) for lic in licenses}
    receipts = events - reg.position - len(later) - RESENT
    recent: deque[Published] = deque(maxlen=RESENT)
    for n in range(receipts):
        lic = licenses[n % len(licenses)]
        arrived = START + timedelta(days=n * DAYS // receipts)
        yield from later.due(arrived)
        if n == receipts * 3 // 5:  # the relay publishes its last batch again
            yield from (Published(m.topic, m.key, m.value, arrived) for m in recent)
        late = rng.random() < 0.05
        received = max(START, arrived - timedelta(days=rng.randint(30, 120) if late else rng.randint(0, 10)))
        currency = "CNY" if rng.random() < 0.8 else "USD"
        kind = "cost_reimbursement" if rng.random() < 0.02 else "royalty"
        message = com.emit(ids(1)[0], commercialization.RevenueReceived(
            license_id=lic, asset_ids=license_assets[lic], kind=kind,
            amount=Money(amount=rng.randint(1_000, 5_000_000), currency=currency),
            effective_date=received.isoformat(), payer_reference=f"INV-{n}"), received, arrived)  # fmt: skip
        recent.append(message)
        yield message
    yield from later.due(date.max)
