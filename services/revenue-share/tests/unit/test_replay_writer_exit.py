"""A replay whose writer process failed must exit, whatever it had queued for the writer."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import asyncio
from datetime import UTC, datetime

from ipshare.settings import BusSettings
from revenue_share.replay import LearnedAt
from revenue_share.replay_writer import ReplayWriter, ReplayWriterFailed

writer = ReplayWriter()
writer.start()
now = datetime.now(UTC)
nowhere = BusSettings(kafka_bootstrap_servers="127.0.0.1:1")
writer.begin(nowhere, "postgresql://nobody@127.0.0.1:1/x", LearnedAt([], now))
for n in range(40):  # closes the failed writer never reads: far more than a pipe holds
    writer.record(f"p{n}", now, [], [{"topic": "t" * 10_000, "partition": 0, "position": n}])
try:
    asyncio.run(writer.finish())
except ReplayWriterFailed:
    print("failed as it should")
finally:
    writer.stop()
"""


def test_a_replay_whose_writer_failed_exits_with_closes_still_queued() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False)

    assert "failed as it should" in done.stdout, done.stderr
