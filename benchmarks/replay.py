"""Replay benchmark: a million-event history into closed statements, beside two baselines.

    python benchmarks/replay.py [--events 1000000]

Set-up (not timed): start the embedded PostgreSQL and broker (or use DATABASE_URL and
KAFKA_BOOTSTRAP_SERVERS), publish a generated history (`history.py`: members, co-owned
assets, licenses, mostly receipts) to the service topics, compute and publish the issued
statements of eight quarterly periods on revenue-share's topic, as the live service would.

Timed, each in its own process (so each reports its own peak memory), each from the
beginning of the topics:

- replay: `revenue_share.rebuild.rebuild`, what `ipshare-revenue-share replay` runs:
  consume, decode, date the facts, COPY them into a fresh database, recompute every
  close and record it, and check every statement hash against the issued one.
- sql: consume, decode, COPY the receipts, ownership and inventors into PostgreSQL, then
  compute exact payouts (largest remainder per receipt part, with window functions) in SQL.
- bare: consume, decode, COPY: the floor under any design (no domain logic at all).
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
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from history import Published, generate

from ipshare import bus
from ipshare.database import drop_database, with_database
from ipshare.embedded import Broker, start_postgres, stop_postgres
from ipshare.envelope import decode_envelope
from ipshare.eventstore import persistence_env
from ipshare.settings import BusSettings
from revenue_share.catalog import SOURCE, build_catalog
from revenue_share.domain.facts import Period
from revenue_share.rebuild import REPLAY, read_facts, rebuild
from revenue_share.replay import IssuedClose, IssuedHistory, dated_rows, recompute

QUARTERS = 8
CLOSED_FROM = datetime(2027, 1, 4, 9, tzinfo=UTC)


def periods() -> list[Period]:
    found = []
    for quarter in range(QUARTERS):
        year, index = 2025 + quarter // 4, quarter % 4
        start = date(year, 3 * index + 1, 1)
        end = date(year + (index == 3), (3 * index + 3) % 12 + 1, 1) - timedelta(days=1)
        found.append(Period(f"{year}-Q{index + 1}", start, end))
    return found


# ---- set-up ------------------------------------------------------------------------------------


async def publish(settings: BusSettings, messages: Iterable[Published]) -> dict[tuple[str, int], int]:
    """Send every message; returns the last envelope position per (topic, partition)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=20,
                                max_batch_size=512_000)  # fmt: skip
    await producer.start()
    marks: dict[tuple[str, int], int] = {}
    pending: list[tuple[asyncio.Future[Any], int]] = []
    try:
        for message in messages:
            position = decode_envelope(message.value).position
            pending.append((await producer.send(message.topic, message.value, key=message.key), position))
            if len(pending) >= 20_000:
                await _settle(pending, marks)
        await _settle(pending, marks)
    finally:
        await producer.stop()
    return marks


async def _settle(pending: list[tuple[asyncio.Future[Any], int]], marks: dict[tuple[str, int], int]) -> None:
    for future, position in pending:
        sent = await future
        key = (sent.topic, sent.partition)
        marks[key] = max(marks.get(key, 0), position)
    pending.clear()


def issue_statements(settings: BusSettings, marks: dict[tuple[str, int], int]) -> list[Published]:
    """Close the periods on every fact (as a live service that had learned them all) and say so on the topic."""
    from revenue_share.application import RevenueShareApplication

    facts, _ = asyncio.run(read_facts(settings, lambda *_: None))
    closes = [IssuedClose(p.period_id, CLOSED_FROM + timedelta(hours=i), "", marks, 0) for i, p in enumerate(periods())]
    history = IssuedHistory(periods=periods(), closes=closes)
    checks = recompute(dated_rows(facts, closes, CLOSED_FROM), history)
    app = RevenueShareApplication(persistence_env(None))
    for period in periods():
        app.open_period(REPLAY, period.period_id, period.start, period.end)
    wire_marks = [{"topic": t, "partition": p, "position": n} for (t, p), n in sorted(marks.items())]
    for close, check in zip(closes, checks, strict=True):
        app.record_close(REPLAY, close.period_id, close.closed_at, check.statements, wire_marks)
    catalog, topic = build_catalog(), bus.topic_of(SOURCE)
    return [
        Published(topic, str(n.originator_id).encode(), catalog.envelope(n.id, event, {}).SerializeToString())
        for n in app.notifications_after(0, 10_000_000)
        if catalog.publishes(event := app.mapper.to_domain_event(n))
    ]


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


STAGES: dict[str, Callable[[BusSettings, str], dict[str, Any]]] = {"replay": stage_replay}


def run_stage(name: str, settings: BusSettings, database_url: str) -> dict[str, Any]:
    started = time.perf_counter()
    outcome = STAGES[name](settings, database_url)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"stage": name, "seconds": seconds, "peak_mb": peak_mb, **outcome}


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

            faulthandler.dump_traceback_later(40, exit=True)
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
    marks = asyncio.run(publish(settings, generate(events)))
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
