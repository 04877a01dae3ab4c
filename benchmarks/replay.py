"""Replay benchmark: a million-event history into closed statements, beside two baselines.

    python benchmarks/replay.py [--events 1000000]

Set-up (not timed): start the embedded PostgreSQL and broker (or use DATABASE_URL and
KAFKA_BOOTSTRAP_SERVERS), publish a generated history (`history.py`: members, co-owned
assets, patent costs, licenses, mostly receipts, some of them cost reimbursements, published
as they arrive, some late, one batch twice) to the service topics, then, on revenue-share's
topic, the distribution policies (`history.policies`: center versions with cost recovery,
fees and researchers' brackets; member splits with brackets) and the issued statements of
eight quarterly periods, as the live service would: each closed five days after its end, on
what had arrived by then (a receipt that arrived later is an adjustment in a later period).
The first hundred of those messages are published twice as well.

Timed, each in its own process (so each reports its own peak memory), each from the
beginning of the topics:

- replay: `revenue_share.rebuild.rebuild`, what `ipshare-revenue-share replay` runs:
  consume, decode, date the facts, COPY them into a fresh database, recompute every
  close and record it, and check every statement hash against the issued one.
- sql: consume, decode, COPY the receipts, ownership and inventors into PostgreSQL, then
  compute exact payouts (largest remainder per receipt part, with window functions) in SQL.
- bare: consume, decode, drop re-sent events, COPY: the floor under any design (no domain
  logic at all).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from history import START, Published, generate, policies

from ipshare import bus
from ipshare.database import drop_database, with_database
from ipshare.envelope import decode_envelope
from ipshare.eventstore import persistence_env
from ipshare.settings import BusSettings
from ipshare.typed_fields import iso_date_of
from ipshare_devtools.embedded import Broker, start_postgres, stop_postgres
from revenue_share.adapters.inbox import InboxProjection
from revenue_share.catalog import SOURCE, build_catalog
from revenue_share.domain.facts import Period
from revenue_share.rebuild import read_facts, rebuild
from revenue_share.replay import IssuedClose, IssuedHistory, dated_rows, recompute
from revenue_share.replay_writer import REPLAY

QUARTERS = 8


def periods() -> list[Period]:
    found = []
    for quarter in range(QUARTERS):
        year, index = START.year + quarter // 4, quarter % 4
        start = date(year, 3 * index + 1, 1)
        end = date(year + (index == 3), (3 * index + 3) % 12 + 1, 1) - timedelta(days=1)
        found.append(Period(f"{year}-Q{index + 1}", start, end))
    return found


# ---- set-up ------------------------------------------------------------------------------------


Marks = dict[tuple[str, int], int]  # (topic, partition) -> the last envelope position applied


def close_times() -> list[datetime]:
    """Each period closes five days after its end, on what had arrived by then."""
    return [datetime(p.end.year, p.end.month, p.end.day, 9, tzinfo=UTC) + timedelta(days=5) for p in periods()]


class _Marker:
    """The marks as of the end of each cut day (of the messages that arrived by then), and of all."""

    def __init__(self, cut_days: Sequence[date]) -> None:
        self._cut_days = list(cut_days)
        self._cuts: list[int] = []  # how many messages were sent before each cut
        self._at_cuts: list[Marks] = []
        self._marks: Marks = {}
        self._sent = self._settled = 0

    def sent(self, arrived: date) -> None:
        while len(self._cuts) < len(self._cut_days) and arrived > self._cut_days[len(self._cuts)]:
            self._cuts.append(self._sent)
        self._sent += 1

    def settled(self, topic: str, partition: int, position: int) -> None:
        self._keep_cuts()
        self._marks[(topic, partition)] = max(self._marks.get((topic, partition), 0), position)
        self._settled += 1

    def marks(self) -> list[Marks]:
        """Once every message is settled: one per cut day, then the marks of them all."""
        self._cuts += [self._sent] * (len(self._cut_days) - len(self._cuts))
        self._keep_cuts()
        return [*self._at_cuts, self._marks]

    def _keep_cuts(self) -> None:
        while len(self._at_cuts) < len(self._cuts) and self._cuts[len(self._at_cuts)] == self._settled:
            self._at_cuts.append(dict(self._marks))


async def publish(settings: BusSettings, messages: Iterable[Published], cut_days: Sequence[date] = ()) -> list[Marks]:
    """Send every message; returns the marks as of the end of each cut day (the messages that
    arrived by then), and last the marks of them all."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=20,
                                max_batch_size=512_000)  # fmt: skip
    await producer.start()
    marker = _Marker(cut_days)
    pending: list[tuple[asyncio.Future[Any], int]] = []
    try:
        for message in messages:
            marker.sent(message.arrived)
            position = decode_envelope(message.value).position
            pending.append((await producer.send(message.topic, message.value, key=message.key), position))
            if len(pending) >= 20_000:
                await _settle(pending, marker)
        await _settle(pending, marker)
    finally:
        await producer.stop()
    return marker.marks()


async def _settle(pending: list[tuple[asyncio.Future[Any], int]], marker: _Marker) -> None:
    for future, position in pending:
        sent = await future
        marker.settled(sent.topic, sent.partition, position)
    pending.clear()


def issue_statements(settings: BusSettings, marks: Sequence[Marks]) -> list[Published]:
    """Close each period on the facts that had arrived by its close (`marks`, one per close), as
    the live service would, and say so on the topic."""
    from revenue_share.application import RevenueShareApplication

    facts, _ = asyncio.run(read_facts(settings, lambda *_: None))
    closes = [
        IssuedClose(p.period_id, closed_at, "", close_marks, 0)
        for p, closed_at, close_marks in zip(periods(), close_times(), marks, strict=False)
    ]
    history = IssuedHistory(periods=periods(), closes=closes, policies=policies())
    checks = recompute(dated_rows(facts, closes, close_times()[-1] + timedelta(days=1)), history)
    app = RevenueShareApplication(persistence_env(None))
    for policy in history.policies:
        app.record_policy(REPLAY, policy)
    for period in periods():
        app.open_period(REPLAY, period.period_id, period.start, period.end)
    for close, check in zip(closes, checks, strict=True):
        wire_marks = [{"topic": t, "partition": p, "position": n} for (t, p), n in sorted(close.marks.items())]
        app.record_close(REPLAY, close.period_id, close.closed_at, check.statements, wire_marks)
    catalog, topic = build_catalog(), bus.topic_of(SOURCE)
    published = [
        Published(topic, str(n.originator_id).encode(), catalog.envelope(n.id, event, {}).SerializeToString())
        for n in app.notifications_after(0, 10_000_000)
        if catalog.publishes(event := app.mapper.to_domain_event(n))
    ]
    return [*published, *published[:RESENT_OWN]]  # the relay sends its first batch twice


RESENT_OWN = 100


# ---- the timed stages (each in a child process) -------------------------------------------------


def stage_replay(settings: BusSettings, database_url: str) -> dict[str, Any]:
    report = asyncio.run(rebuild(settings, with_database(database_url, "bench_replay"), _progress))
    if not report.identical:
        raise SystemExit(f"the replay differs from the issued statements: {report.checks}")
    statements = sum(len(c.statements) for c in report.checks)
    return {"messages": report.messages, "result": f"{statements:,} statements in {len(report.checks)} periods, "
            "hashes identical"}  # fmt: skip


def _progress(stage: str, done: int, total: int | None) -> None:
    if os.environ.get("BENCH_VERBOSE"):
        print(f"{time.perf_counter():.1f} {stage} {done}/{total}", file=sys.stderr)


SOURCE_TOPICS = InboxProjection.topics


async def _fresh(database_url: str, name: str, schema: str) -> asyncpg.Connection:
    url = with_database(database_url, name)
    await drop_database(url)
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    conn = await asyncpg.connect(url)
    await conn.execute(schema)
    return conn


async def bare(settings: BusSettings, database_url: str) -> dict[str, Any]:
    """Consume, decode, drop re-sent events, COPY each event's envelope and money: no domain logic."""
    conn = await _fresh(database_url, "bench_bare", BARE_SCHEMA)
    decoder, read, seen = InboxProjection.decoder, 0, set()
    async for batch in bus.read_from_beginning(settings, SOURCE_TOPICS):
        rows = []
        for record in batch:
            envelope = decode_envelope(record.value)
            if envelope.event_id in seen:
                continue
            seen.add(envelope.event_id)
            payload = decoder.decode(envelope) if decoder.knows(envelope.type) else None
            money = getattr(payload, "amount", None)
            amount, currency = (money.amount, money.currency) if money else (0, "")
            rows.append((envelope.event_id, envelope.type, envelope.aggregate_id, envelope.position,
                         iso_date_of(envelope, "effective_day"), amount, currency))  # fmt: skip
        await conn.copy_records_to_table("events", records=rows)
        read += len(batch)
    stored = await conn.fetchval("SELECT count(*) FROM events")
    await conn.close()
    return {"messages": read, "result": f"{stored:,} rows copied"}


async def sql(settings: BusSettings, database_url: str) -> dict[str, Any]:
    """Consume, decode, COPY receipts, ownership and inventors, then split every receipt exactly in SQL."""
    facts, read = await read_facts(settings, lambda *_: None)
    conn = await _fresh(database_url, "bench_sql", SQL_SCHEMA)
    tables: dict[str, list[tuple[Any, ...]]] = {t: [] for t in ("receipts", "receipt_assets", "snapshots", "inventors")}
    for fact in facts:
        _load(tables, fact.fact_id, fact.kind, fact.body)
    for table_name, rows in tables.items():
        await conn.copy_records_to_table(table_name, records=rows)
    totals = await conn.fetch(SQL_PAYOUTS)
    received = await conn.fetch("SELECT currency, sum(amount) AS total FROM receipts GROUP BY currency")
    await conn.close()
    paid = {r["currency"]: 0 for r in received}
    for row in totals:
        paid[row["currency"]] += row["total"]
    exact = all(paid[r["currency"]] == r["total"] for r in received)
    return {"messages": read, "result": f"{len(totals):,} payee totals, "
            f"{'sum to the receipts exactly' if exact else 'DO NOT sum to the receipts'}"}  # fmt: skip


def _load(tables: dict[str, list[tuple[Any, ...]]], fact_id: str, kind: str, body: dict[str, Any]) -> None:
    day = date.fromisoformat(body.get("effective_date", "2000-01-01"))
    if kind == "receipt":
        tables["receipts"].append((fact_id, body["amount"], body["currency"], day))
        tables["receipt_assets"].extend((fact_id, asset) for asset in body["asset_ids"])
    elif kind == "ownership":
        tables["snapshots"].extend((body["asset_id"], m, bps, day) for m, bps in body["owners"].items())
    elif kind == "inventors":
        tables["inventors"].extend((body["asset_id"], r, bps) for r, bps in body["contributions"].items())


BARE_SCHEMA = """CREATE TABLE events (event_id text PRIMARY KEY, type text, aggregate_id text, position bigint,
    effective_date text, amount bigint, currency text)"""
SQL_SCHEMA = """
CREATE TABLE receipts (receipt_id text PRIMARY KEY, amount bigint, currency text, day date);
CREATE TABLE receipt_assets (receipt_id text, asset_id text);
CREATE TABLE snapshots (asset_id text, member_id text, share_bps int, from_day date);
CREATE TABLE inventors (asset_id text, researcher_id text, bps int);
"""
# The default policy in SQL: each receipt split equally over its assets, each part half to
# the researchers (by contribution) and half to the owners in force on the day (by share),
# every split by largest remainder (ties to the smaller id), then summed per payee.
SQL_PAYOUTS = """
WITH spans AS (
  SELECT asset_id, from_day,
         coalesce(lead(from_day) OVER (PARTITION BY asset_id ORDER BY from_day), 'infinity') AS to_day
  FROM (SELECT DISTINCT asset_id, from_day FROM snapshots) d
), owners AS (
  SELECT asset_id, member_id, share_bps, from_day, to_day FROM spans JOIN snapshots USING (asset_id, from_day)
), counted AS (
  SELECT receipt_id, count(*) AS n FROM receipt_assets GROUP BY receipt_id
), parts AS (
  SELECT r.receipt_id, r.currency, r.day, ra.asset_id,
         r.amount / c.n + (row_number() OVER (PARTITION BY r.receipt_id ORDER BY ra.asset_id) <= r.amount % c.n)::int
           AS amount
  FROM receipts r JOIN receipt_assets ra USING (receipt_id) JOIN counted c USING (receipt_id)
), claims AS (
  SELECT p.receipt_id, p.asset_id, 'r' AS side, p.currency, p.amount - p.amount / 2 AS amount,
         i.researcher_id AS payee, i.bps
  FROM parts p JOIN inventors i USING (asset_id)
  UNION ALL
  SELECT p.receipt_id, p.asset_id, 'o', p.currency, p.amount / 2, o.member_id, o.share_bps
  FROM parts p JOIN owners o ON o.asset_id = p.asset_id AND p.day >= o.from_day AND p.day < o.to_day
), ranked AS (
  SELECT payee, currency, amount * bps / 10000 AS base,
         row_number() OVER w AS rank, amount - sum(amount * bps / 10000) OVER (PARTITION BY receipt_id, asset_id, side)
           AS leftover
  FROM claims WINDOW w AS (PARTITION BY receipt_id, asset_id, side ORDER BY amount * bps % 10000 DESC, payee)
)
SELECT payee, currency, sum(base + (rank <= leftover)::int)::bigint AS total FROM ranked GROUP BY payee, currency
"""


STAGES: dict[str, Callable[[BusSettings, str], dict[str, Any]]] = {
    "replay": stage_replay,
    "sql": lambda settings, url: asyncio.run(sql(settings, url)),
    "bare": lambda settings, url: asyncio.run(bare(settings, url)),
}


def run_stage(name: str, settings: BusSettings, database_url: str) -> dict[str, Any]:
    started = time.perf_counter()
    outcome = STAGES[name](settings, database_url)
    seconds = time.perf_counter() - started
    return {"stage": name, "seconds": seconds, "peak_mb": _peak_mb(), **outcome}


def _peak_mb() -> float:
    """This process's peak resident memory, plus the largest of its children's (the replay
    COPYs the facts from a second process): an upper bound on what the two held at once.

    Not this process's ru_maxrss: that keeps the parent's peak across fork and exec, so every
    stage would report the set-up's."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024 + children
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + children  # not Linux: an upper bound


# ---- the orchestration -----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--stages", default="bare,sql,replay")
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # a child process runs one stage
    args = parser.parse_args()
    if args.stage:
        if os.environ.get("BENCH_VERBOSE"):
            import faulthandler

            faulthandler.dump_traceback_later(60, repeat=True)  # where a slow stage spends its time
        settings = BusSettings(kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"])
        print(json.dumps(run_stage(args.stage, settings, os.environ["DATABASE_URL"])))
        return
    with tempfile.TemporaryDirectory(prefix="ipshare-bench-") as scratch:
        database_url, broker = servers(Path(scratch))
        try:
            results = benchmark(args.events, args.stages.split(","), database_url, broker)
        finally:
            if broker is not None:
                broker.stop()
            if "DATABASE_URL" not in os.environ:
                stop_postgres(Path(scratch) / "pgdata")
    print(table(results, args.events))


def servers(scratch: Path) -> tuple[str, Broker | None]:
    database_url = os.environ.get("DATABASE_URL") or start_postgres(scratch / "pgdata")
    if "KAFKA_BOOTSTRAP_SERVERS" in os.environ:
        return database_url, None
    broker = Broker(log_path=scratch / "broker.log")
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.start()
    return database_url, broker


def benchmark(events: int, stages: list[str], database_url: str, _: Broker | None) -> list[dict[str, Any]]:
    settings = BusSettings(kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    started = time.perf_counter()
    asyncio.run(bus.ensure_topics(settings, [bus.topic_of(s) for s in ("ip-registry", "commercialization",
                                                                        "incubation", SOURCE)]))  # fmt: skip
    marks = asyncio.run(publish(settings, generate(events), [t.date() for t in close_times()]))
    asyncio.run(publish(settings, issue_statements(settings, marks)))
    print(f"set-up: {events:,} events published and statements issued in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)  # fmt: skip
    env = {**os.environ, "DATABASE_URL": database_url}
    results = []
    for name in stages:
        child = subprocess.run([sys.executable, __file__, "--stage", name], env=env, stdout=subprocess.PIPE, text=True)
        if child.returncode:
            raise SystemExit(f"stage {name} failed")
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
        asyncio.run(drop_database(with_database(database_url, f"bench_{name}")))
    return results


def table(results: list[dict[str, Any]], events: int) -> str:
    lines = [f"{'path':8} {'seconds':>8} {'events/s':>10} {'peak MB':>8}  result", "-" * 100]
    for r in results:
        rate = r["messages"] / r["seconds"]
        lines.append(f"{r['stage']:8} {r['seconds']:8.1f} {rate:10,.0f} {r['peak_mb']:8.0f}  {r['result']}")
    return "\n".join([f"replay benchmark: {events:,} events", *lines])


if __name__ == "__main__":
    main()
