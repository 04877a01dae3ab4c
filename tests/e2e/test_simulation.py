"""A short run of the long simulation (`make simulate`), so that it cannot rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_a_short_simulated_history_keeps_every_promise(postgres_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": postgres_url}
    command = [sys.executable, "simulation/simulate.py", "--seed", "8", "--steps", "60", "--every", "30",
               "--state-dir", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "everything agreed" in done.stdout
    assert "SIGKILL and restart" in done.stdout
    assert "replay from the topics: closed periods identical" in done.stdout
    # The seed reaches spin-offs paying their members and a refund: they stay covered too.
    found = re.search(r"(\d+) spin-offs \((\d+) distributions paying members\), (\d+) refunds", done.stdout)
    assert found, done.stdout[-2000:]
    assert all(int(n) > 0 for n in found.groups()), found.group(0)
