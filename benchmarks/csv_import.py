"""CSV import benchmark: a legacy portfolio into a fresh PostgreSQL, beside two baselines.

    .venv/bin/python benchmarks/csv_import.py [--rows 10000] [--seed 7]

Set-up (not timed): start the embedded PostgreSQL in a temporary folder (or use the
server at DATABASE_URL), generate a valid portfolio CSV in the legacy format that
`ip_registry.csv_import` reads (CN, US and PCT applications in every live state, some
ended, one to three co-owners, one to three inventors), and for each variant create a
fresh database and admit the members the file names.

Timed, each on its own database, from the CSV text:

- import: `IpRegistryApplication.import_portfolio_csv`, what `POST /assets/imports` runs:
  parse and validate every row, check the members and clashes, save everything (and the
  record of the file) in one transaction.
- 100 per transaction: the same parse, then the researchers and assets saved in
  transactions of 100 aggregates (how the import saved before it was made atomic).
- one per transaction: the same parse, then every researcher and asset saved in a
  transaction of its own (what registering them one by one costs the event store).
- parse only: `parse_portfolio_csv`, validation and aggregates without a database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from eventsourcing.domain import Aggregate

from ip_registry.application import IpRegistryApplication
from ip_registry.csv_import import COLUMNS, parse_portfolio_csv
from ip_registry.domain.identifiers import cn_application_check_character, uscc_check_character
from ip_registry.domain.member import Researcher
from ipshare.auth import Principal, Role
from ipshare.database import drop_database, ensure_database, with_database
from ipshare.eventstore import CommandContext, persistence_env
from ipshare_devtools.embedded import start_postgres, stop_postgres
from ipshare_kernel.clock import FixedClock

ADMIN = CommandContext(Principal(Role.ADMIN, "benchmark"))
TODAY = date(2025, 1, 1)
MEMBERS = 24
FIELDS = ("additive manufacturing", "batteries", "semiconductors", "biomedicine", "robotics", "new materials")
TAGS = ("", "", "", "key_core", "common_foundational")
CN_TYPE_DIGIT = {"invention_patent": "1", "utility_model": "2", "design": "3"}


def credit_code(n: int) -> str:
    first17 = f"91110000{n:09d}"
    return first17 + uscc_check_character(first17)


# ---- the portfolio ---------------------------------------------------------------------------


def _split(rng: random.Random, parts: int) -> list[int]:
    cuts = sorted(rng.sample(range(1, 10_000), parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True)]


def _application(rng: random.Random, serial: int) -> tuple[str, str, str]:
    """(kind, jurisdiction, application number), unique per serial."""
    roll = rng.random()
    if roll < 0.08:
        return "invention_patent", "US", f"{16 + serial // 1_000_000}/{serial % 1_000_000:06d}"
    if roll < 0.12:
        return "invention_patent", "PCT", f"PCT/CN{2015 + serial % 9}/{serial:06d}"
    kind = rng.choices(list(CN_TYPE_DIGIT), weights=(6, 3, 1))[0]
    digits = f"{2015 + serial % 9}{CN_TYPE_DIGIT[kind]}{serial:07d}"
    return kind, "CN", f"{digits}.{cn_application_check_character(digits)}"


def _lifecycle(rng: random.Random, kind: str, filed: date) -> dict[str, str]:
    """Status and dates in order: disclosure <= filing <= publication <= grant <= expiry <= end."""
    cells = {"disclosure_date": str(filed - timedelta(days=rng.randint(10, 120))), "filing_date": str(filed)}
    published = kind == "invention_patent" and rng.random() < 0.7
    if published:
        cells |= {"status": "published", "publication_number": f"CN{rng.randint(100_000_000, 999_999_999)}A",
                  "publication_date": str(filed + timedelta(days=540))}  # fmt: skip
    if rng.random() < 0.5:
        granted = filed + timedelta(days=rng.randint(600, 1200))
        cells |= {"status": "granted", "grant_number": f"ZL{rng.randint(10**11, 10**12 - 1)}",
                  "grant_date": str(granted), "expiry_date": str(filed + timedelta(days=365 * 20))}  # fmt: skip
        if rng.random() < 0.2:
            cells |= {"end_status": "lapsed", "end_reason": "annuity unpaid",
                      "end_date": str(granted + timedelta(days=rng.randint(1, 700)))}  # fmt: skip
    cells.setdefault("status", "filed")
    return cells


def portfolio_row(rng: random.Random, serial: int, names: list[str]) -> dict[str, str]:
    kind, jurisdiction, number = _application(rng, serial)
    owners = rng.sample(range(1, MEMBERS + 1), rng.randint(1, 3))
    inventors = rng.sample(names, rng.randint(1, 3))
    filed = date(2015 + serial % 9, 1, 1) + timedelta(days=rng.randrange(360))
    return {
        "title": f"{rng.choice(FIELDS).capitalize()} method {serial}",
        "kind": kind, "jurisdiction": jurisdiction, "application_number": number,
        **_lifecycle(rng, kind, filed),
        "technology_field": rng.choice(FIELDS), "strategic_reserve": rng.choice(TAGS),
        "owners": ";".join(f"{credit_code(m)}:{bps}" for m, bps in zip(owners, _split(rng, len(owners)), strict=True)),
        "inventors": ";".join(f"{name}@{credit_code(rng.choice(owners))}:{bps}"
                              for name, bps in zip(inventors, _split(rng, len(inventors)), strict=True)),
    }  # fmt: skip


def portfolio_csv(rows: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    names = [f"Researcher {n}" for n in range(max(20, rows // 20))]
    lines = [",".join(COLUMNS)]
    for serial in range(rows):
        row = portfolio_row(rng, serial, names)
        lines.append(",".join(row.get(column, "") for column in COLUMNS))
    return "\n".join(lines) + "\n"


# ---- the variants ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    variant: str
    rows: int
    seconds: float
    events: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def _admit_members(app: IpRegistryApplication) -> None:
    for n in range(1, MEMBERS + 1):
        app.admit_member(ADMIN, name=f"Member {n}", kind="university", state_established=True,
                         credit_code=credit_code(n), effective_date=date(2010, 1, 1))  # fmt: skip


def import_use_case(app: IpRegistryApplication, text: str) -> int:
    report = app.import_portfolio_csv(ADMIN, text)
    if report.errors:
        raise SystemExit(f"the generated portfolio has invalid rows: {report.errors[:3]}")
    return report.imported


def in_transactions_of(size: int) -> Callable[[IpRegistryApplication, str], int]:
    def save(app: IpRegistryApplication, text: str) -> int:
        plan = parse_portfolio_csv(text, app.clock.today())
        researchers: list[Aggregate] = [
            Researcher.register(name=r.name, member_id=r.member_id, effective_date=r.since, staff_number=r.staff_number)
            for r in plan.researchers.values()
        ]
        batch = [*researchers, *(asset for _, asset in plan.assets)]
        for start in range(0, len(batch), size):
            app.record(ADMIN, *batch[start : start + size])
        return len(plan.assets)

    return save


def run_on_fresh_database(server_url: str, variant: str, rows: int, text: str,
                          use: Callable[[IpRegistryApplication, str], int]) -> Result:  # fmt: skip
    url = with_database(server_url, f"bench_csv_{uuid.uuid4().hex[:10]}")
    asyncio.run(ensure_database(url))
    app = IpRegistryApplication(env=persistence_env(url), clock=FixedClock.on(TODAY))
    try:
        _admit_members(app)
        before = app.recorder.max_notification_id() or 0
        started = time.perf_counter()
        imported = use(app, text)
        seconds = time.perf_counter() - started
        if imported != rows:
            raise SystemExit(f"{variant}: {imported} of {rows} rows imported")
        return Result(variant, rows, seconds, (app.recorder.max_notification_id() or 0) - before)
    finally:
        app.close()
        asyncio.run(drop_database(url))


def parse_only(rows: int, text: str) -> Result:
    started = time.perf_counter()
    plan = parse_portfolio_csv(text, TODAY)
    seconds = time.perf_counter() - started
    if plan.errors:
        raise SystemExit(f"the generated portfolio has invalid rows: {plan.errors[:3]}")
    return Result("parse only (no database)", rows, seconds, 0)


def measure(server_url: str, rows: int, seed: int) -> list[Result]:
    text = portfolio_csv(rows, seed)
    return [
        run_on_fresh_database(server_url, "import use case (one transaction)", rows, text, import_use_case),
        run_on_fresh_database(server_url, "100 aggregates per transaction", rows, text, in_transactions_of(100)),
        run_on_fresh_database(server_url, "one aggregate per transaction", rows, text, in_transactions_of(1)),
        parse_only(rows, text),
    ]  # fmt: skip


def table(results: list[Result]) -> str:
    baseline = results[0].rows_per_second
    lines = [f"{'variant':<40} {'rows':>7} {'seconds':>8} {'rows/s':>9} {'events':>7} {'vs import':>9}"]
    for r in results:
        lines.append(f"{r.variant:<40} {r.rows:>7} {r.seconds:>8.2f} {r.rows_per_second:>9.0f} {r.events:>7} "
                     f"{r.rows_per_second / baseline:>8.2f}x")  # fmt: skip
    return "\n".join(lines)


@contextlib.contextmanager
def server() -> Iterator[str]:
    """DATABASE_URL's server, or the embedded PostgreSQL in a temporary folder (stopped after)."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="ipshare-bench-") as folder:
        data_dir = Path(folder) / "pgdata"
        try:
            yield start_postgres(data_dir)
        finally:
            stop_postgres(data_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with server() as url:
        print(f"{args.rows} portfolio rows (seed {args.seed}), PostgreSQL at {url.split('@')[-1]}", flush=True)
        print(table(measure(url, args.rows, args.seed)))


if __name__ == "__main__":
    main()
