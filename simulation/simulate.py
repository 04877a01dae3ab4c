"""The long simulation: the four services, killed and restarted, against what they promise.

    python simulation/simulate.py --seed 7 --steps 300      (or: make simulate SEED=7 STEPS=300)

Starts PostgreSQL (embedded, or `DATABASE_URL`'s server) and an embedded broker of its
own, and the four services as processes on free ports; then drives them through their
public HTTP APIs with a seeded generator (`world.py`): members of every kind, co-owned
assets and confirmations, transfers (backdated, same-date multi-seller sales, sales out of
the membership), inventors and corrections, costs and licensee cost reimbursements,
licenses with royalty reports and payments in several currencies, late receipts, policy
versions (some posted while a close runs), corrected royalty reports whose credit notes
take paid royalty back (refunds), spin-offs founded on the consortium's assets (through a
license or as capital) with members, researchers and investors on their cap tables,
spin-off licensees, dividends and exits (some backdated, some after shares changed hands),
periods and closes, and SIGKILLs of a random service followed by its restart. Every
`--every` steps and at the end it checks what `checks.py` lists, the last time with a
replay from the topics as well.

The same seed sends the same commands. On the first disagreement it prints the seed,
the step and the difference, and exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from checks import Checker
from client import Client, Disagreement, Tally
from world import Generator

from ipshare_devtools.embedded import free_port
from ipshare_devtools.stack import Stack, StackSettings

STARTUP_SECONDS = 300.0  # on a busy machine four services take minutes to import and become healthy


def stack_settings(state_dir: Path, prefix: str) -> StackSettings:
    services = ("ip_registry", "commercialization", "incubation", "revenue_share")
    ports: dict[str, Any] = {f"{name}_{kind}_port": free_port() for name in services for kind in ("http", "grpc")}
    ports["console_http_port"], ports["dev_issuer_port"] = free_port(), free_port()
    # The broker is always the simulation's own: the topics' names are fixed, and a replay reads them all.
    chosen = {"state_dir": state_dir, "database_prefix": prefix, "embedded_kafka_port": free_port(),
              "kafka_bootstrap_servers": None, **ports}  # fmt: skip
    return StackSettings(**chosen)  # DATABASE_URL, when set, comes from the environment


def run(seed: int, steps: int, every: int, state_dir: Path, *, keep_going: bool = False,
        crash_in_flight: bool = True) -> int:  # fmt: skip
    os.environ.setdefault("AUDIT_CHECKPOINT_SECONDS", "5")
    stack = Stack(stack_settings(state_dir, f"sim{seed}"))
    stack.start(fresh=True, timeout=STARTUP_SECONDS)
    client, tally = Client(stack.settings), Tally()

    def crash(name: str) -> None:
        stack.kill(name)
        stack.restart(name, STARTUP_SECONDS)

    generator = Generator(seed, client, tally, crash, crash_in_flight)
    checker = Checker(client, generator.world, stack, keep_going=keep_going)
    started, step = time.monotonic(), 0
    try:
        for step in range(1, steps + 1):
            did = generator.step()
            print(f"step {step:4} {generator.today}  {did}", flush=True)
            if step % every == 0 and step < steps:
                checker.checkpoint(replay=False)
                print(f"checkpoint after step {step}: {_summary(checker.checks)}", flush=True)
        checker.checkpoint(replay=True)
    except Disagreement as found:
        print(f"\nDISAGREEMENT at step {step} (seed {seed}, steps {steps}): {found}", file=sys.stderr)
        print(f"reproduce: make simulate SEED={seed} STEPS={step}; logs in {stack.logs}", file=sys.stderr)
        return 1
    finally:
        client.close()
        stack.stop()
        _report(seed, step, generator, tally, checker, time.monotonic() - started)
    if checker.found:
        print(f"\nDISAGREEMENTS (seed {seed}, steps {steps}), the first first:", file=sys.stderr)
        for broken in checker.found:
            print(f"- {broken}", file=sys.stderr)
        return 1
    print("everything agreed")
    return 0


def _summary(checks: dict[str, int]) -> str:
    return ", ".join(f"{what}: {n}" for what, n in checks.items())


def _report(seed: int, steps: int, generator: Generator, tally: Tally, checker: Checker, seconds: float) -> None:
    world = generator.world
    print(f"\nseed {seed}: {steps} steps in {seconds:.0f} s, business dates up to {generator.today}")
    print(f"world: {len(world.members)} members ({sum(m.state_established for m in world.members)} state-established), "
          f"{len(world.assets)} assets, {len(world.licenses)} licenses, {len(world.periods)} periods "
          f"({sum(p.closed for p in world.periods)} closed), {len(world.spin_offs)} spin-offs "
          f"({world.equity} distributions paying members), {world.refunds} refunds, "
          f"revenue {world.paid()}")  # fmt: skip
    crashes = sum(1 for line in generator.log if "SIGKILL" in line or "killed" in line)
    print(f"crashes: {crashes} services killed and restarted")
    print("accepted: " + _summary(tally.accepted))
    for action, n in tally.refused.items():
        print(f"refused:  {action}: {n} (e.g. {tally.reasons[action]})")
    print("checked:  " + _summary(checker.checks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--every", type=int, default=50, help="steps between checkpoints")
    parser.add_argument("--keep-going", action="store_true", help="note each disagreement and go on to the end")
    parser.add_argument(
        "--no-crash-in-flight",
        action="store_true",
        help="kill services only between requests, never while revenue-share closes a period",
    )
    parser.add_argument("--state-dir", type=Path, help="data and logs (default: .ipshare/simulation-<seed>)")
    args = parser.parse_args()
    state_dir = args.state_dir or Path(".ipshare") / f"simulation-{args.seed}"
    raise SystemExit(
        run(args.seed, args.steps, args.every, state_dir, keep_going=args.keep_going,
            crash_in_flight=not args.no_crash_in_flight)
    )  # fmt: skip


if __name__ == "__main__":
    main()
