"""`benchmarks/csv_import.py` still runs: a small portfolio through every variant on the test server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[4] / "benchmarks" / "csv_import.py"


def test_the_benchmark_imports_a_small_generated_portfolio_in_every_variant(postgres_url: str) -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "200"],
        env={**os.environ, "DATABASE_URL": postgres_url},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    header, *rows = run.stdout.splitlines()[1:]
    assert header.split() == ["variant", "rows", "seconds", "rows/s", "events", "vs", "import"]
    variants = {line.split("  ")[0]: line.split() for line in rows}
    assert list(variants) == ["import use case (one transaction)", "100 aggregates per transaction",
                              "one aggregate per transaction", "parse only (no database)"]  # fmt: skip
    imported, chunked = variants["import use case (one transaction)"], variants["100 aggregates per transaction"]
    one_by_one = variants["one aggregate per transaction"]
    assert imported[-5] == chunked[-5] == one_by_one[-5] == "200"  # rows
    # The same events (at least registered and effective per asset), and the import's record of the file.
    assert int(imported[-2]) - 1 == int(chunked[-2]) == int(one_by_one[-2]) >= 400
    assert all(float(v[-3]) > 0 for v in variants.values())  # rows/s
