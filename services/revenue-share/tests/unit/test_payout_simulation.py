"""The fast differential simulation of the payouts (domain level; runs in `make test`).

Each seed generates one history (`payout_histories.Simulation`) and checks, after every
step, the live ledger against the reference model (`payout_reference`), a ledger fed the
facts as a replay reads them, every issued statement's hash and every reconciliation's
residual. A failure names its seed and step; to reproduce one, or to run more:

    PAYOUT_SIM_SEED=1234 .venv/bin/pytest services/revenue-share/tests/unit/test_payout_simulation.py
    PAYOUT_SIM_HISTORIES=2000 PAYOUT_SIM_STEPS=60 .venv/bin/pytest ...test_payout_simulation.py
"""

from __future__ import annotations

import os

import pytest
from payout_histories import Simulation

HISTORIES = int(os.environ.get("PAYOUT_SIM_HISTORIES", "200"))
STEPS = int(os.environ.get("PAYOUT_SIM_STEPS", "30"))
SEEDS = [int(os.environ["PAYOUT_SIM_SEED"])] if "PAYOUT_SIM_SEED" in os.environ else list(range(HISTORIES))


@pytest.mark.parametrize("seed", SEEDS)
def test_the_ledger_agrees_with_the_reference_model_and_a_replay_after_every_step(seed: int) -> None:
    simulation = Simulation(seed).run(STEPS, replay_every=5)
    assert sum(simulation.steps.values()) == STEPS
