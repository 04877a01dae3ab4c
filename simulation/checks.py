"""What must hold at every checkpoint of a simulated history, read from the outside.

- nothing acknowledged was lost: every payment a service acknowledged reaches
  revenue-share as a receipt (per currency, over all periods);
- every period reconciles with residual 0;
- the statements and reconciliation of every closed period and the first open one are the
  reference model's, fed the facts revenue-share holds (`reference.py`);
- an issued statement never changes (hash and lines as first read after its close);
- the Art. 45 floor holds on the outcome: for each state-established member, what its
  researchers were credited is at least what the member kept of its own share;
- a replay from the topics (`ipshare-revenue-share replay`) issues the same statements.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client import Client, Disagreement
from reference import compare_with_reference
from world import Period, World

from ipshare_devtools.stack import Stack


@dataclass
class Checker:
    client: Client
    world: World
    stack: Stack
    settle_seconds: float = 180.0
    issued: dict[str, tuple[str, str]] = field(default_factory=dict)  # period -> (hash, statements as first read)
    checks: dict[str, int] = field(default_factory=dict)
    keep_going: bool = False  # note a broken promise and go on, instead of stopping at the first
    found: list[str] = field(default_factory=list)

    def _checked(self, what: str, times: int = 1) -> None:
        self.checks[what] = self.checks.get(what, 0) + times

    def checkpoint(self, *, replay: bool) -> None:
        checks = [self.nothing_acknowledged_lost, self.residuals_are_zero, self.issued_statements_unchanged,
                  self.agrees_with_reference, self.floors_hold,
                  *([self.replay_is_identical] if replay else [])]  # fmt: skip
        for check in checks:
            try:
                check()
            except Disagreement as broken:
                if not self.keep_going:
                    raise
                if str(broken) not in self.found:
                    self.found.append(str(broken))

    # ---- the checks ------------------------------------------------------------------------

    def _reconciliation(self) -> dict[str, list[dict[str, Any]]]:
        """Every closed period's, and the first open one's (a later one has none yet)."""
        rows = {}
        for period in self._reconciled():
            answer = self.client.get("revenue-share", f"/periods/{period.period_id}/reconciliation")
            if not answer.ok:
                raise Disagreement(f"reconciliation of {period.period_id} answered {answer.status}: {answer.body}")
            rows[period.period_id] = answer.body
        return rows

    def _reconciled(self) -> list[Period]:
        open_periods = self.world.open_periods()
        return [p for p in self.world.periods if p.closed or p is open_periods[0]]

    def nothing_acknowledged_lost(self) -> None:
        """Wait until revenue-share has every acknowledged payment as a receipt (it consumes asynchronously),
        up to the end of the first open period: the later ones are not reconciled yet."""
        deadline = time.monotonic() + self.settle_seconds
        while True:
            received: dict[str, int] = {}
            by_period = self._reconciliation()
            for rows in by_period.values():
                for row in rows:
                    received[row["currency"]] = received.get(row["currency"], 0) + row["receipts"]
            expected = {c: a for c, a in self.world.paid(self._reconciled()[-1].end).items() if a}
            if {c: a for c, a in received.items() if a} == expected:
                self._checked("acknowledged cash received by revenue-share")
                return
            if time.monotonic() > deadline:
                closed = {p.period_id for p in self.world.periods if p.closed}
                periods = "; ".join(
                    f"{period} ({'closed' if period in closed else 'open'}): "
                    + ", ".join(f"{r['receipts']} {r['currency']}" for r in rows)
                    for period, rows in by_period.items() if rows
                )  # fmt: skip
                raise Disagreement(f"acknowledged payments {expected} but revenue-share received {received} "
                                   f"after {self.settle_seconds:.0f} s; receipts by period: {periods}")  # fmt: skip
            time.sleep(1.0)

    def residuals_are_zero(self) -> None:
        for period_id, rows in self._reconciliation().items():
            for row in rows:
                if row["residual"] != 0:
                    raise Disagreement(f"period {period_id} {row['currency']} does not reconcile: {row}")
                self._checked("reconciliation residual 0 (period, currency)")

    def _statements(self, period_id: str) -> list[dict[str, Any]]:
        answer = self.client.get("revenue-share", f"/periods/{period_id}/statements")
        if not answer.ok:
            raise Disagreement(f"statements of {period_id} answered {answer.status}: {answer.body}")
        return list(answer.body)

    def issued_statements_unchanged(self) -> None:
        periods = {p["period_id"]: p for p in self.client.get("revenue-share", "/periods").body}
        for period in self.world.periods:
            if not period.closed:
                continue
            found = periods[period.period_id]
            if found["status"] != "closed":
                raise Disagreement(f"period {period.period_id} was closed (acknowledged) but is {found['status']}")
            now = (found["statement_hash"], _canonical(self._statements(period.period_id)))
            first = self.issued.setdefault(period.period_id, now)
            if now != first:
                raise Disagreement(f"issued statements of {period.period_id} changed: hash {first[0][:16]} -> "
                                   f"{now[0][:16]}; {_first_difference(first[1], now[1])}")  # fmt: skip
            self._checked("issued period unchanged")

    def agrees_with_reference(self) -> None:
        [service] = [s for s in self.stack.settings.services() if s.name == "revenue-share"]
        periods = compare_with_reference(self.client, self.stack.service_database(service))
        self._checked("statements and reconciliation as the reference model's (period)", periods)

    def floors_hold(self) -> None:
        """Cumulatively over the closed periods, per state-established member and currency: what its
        researchers (the inventors of any asset it ever owned) were credited is at least what it kept
        of its share. A necessary condition of the floor whoever is counted as the member's researchers
        (its own inventors of an asset, or all of them when none is its own)."""
        state = {m.member_id: self.world.researchers_of(m.member_id) for m in self.world.members if m.state_established}
        credited: dict[tuple[str, str], int] = {}
        kept: dict[tuple[str, str], int] = {}
        evidence: dict[tuple[str, str], list[str]] = {}
        for period in self.world.periods:
            if not period.closed:
                continue
            for statement in self._statements(period.period_id):
                payee = statement["payee"]
                for line in statement["lines"]:
                    if payee["kind"] == "researcher":
                        for member in (m for m, researchers in state.items() if payee["id"] in researchers):
                            key = (member, line["currency"])
                            credited[key] = credited.get(key, 0) + line["amount"]
                    elif payee["kind"] == "member" and payee["id"] in state and line["step"] == "owner_share":
                        key = (payee["id"], line["currency"])
                        kept[key] = kept.get(key, 0) + line["amount"]
                        evidence.setdefault(key, []).append(
                            f"{period.period_id} {line['amount']} {line['policy_version']} {line['reason']}"[:200]
                        )
        for (member, currency), amount in sorted(kept.items()):
            rewarded = credited.get((member, currency), 0)
            if rewarded < amount:
                raise Disagreement(
                    f"Art. 45 floor: state-established member {member} kept {amount} {currency} of its share over "
                    f"the closed periods, the inventors of its assets were credited {rewarded}"
                    "; the member's lines: " + "; ".join(evidence[(member, currency)][:5])
                )
            self._checked("Art. 45 floor (member, currency)")

    def replay_is_identical(self) -> None:
        [service] = [s for s in self.stack.settings.services() if s.name == "revenue-share"]
        env = {
            **os.environ,
            **self.stack.service_env(service),
            "LOG_JSON": "false",
            "COLUMNS": "200",
            "_TYPER_STANDARD_TRACEBACK": "1",
        }  # plain tracebacks
        command = [str(Path(sys.executable).parent / "ipshare-revenue-share"), "replay"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            raise Disagreement(f"the replay exits {done.returncode}: {_tail(done.stdout + done.stderr, 2)}")
        closed = [p for p in self.world.periods if p.closed]
        for period in closed:
            issued_hash = self.issued[period.period_id][0]
            if issued_hash[:16] not in done.stderr:
                raise Disagreement(f"the replay does not report {period.period_id}'s hash {issued_hash[:16]}:\n"
                                   f"{_tail(done.stderr)}")  # fmt: skip
        self._checked("replay from the topics: closed periods identical", len(closed))


def _canonical(statements: Iterable[dict[str, Any]]) -> str:
    ordered = sorted(statements, key=lambda s: (s["payee"]["kind"], s["payee"]["id"], s["payee"]["account"]))
    return json.dumps(ordered, sort_keys=True)


def _first_difference(before: str, after: str) -> str:
    old = {json.dumps(s["payee"], sort_keys=True): s for s in json.loads(before)}
    new = {json.dumps(s["payee"], sort_keys=True): s for s in json.loads(after)}
    for payee in sorted(old.keys() | new.keys()):
        if old.get(payee) != new.get(payee):
            return f"payee {payee}: was {old.get(payee)}, now {new.get(payee)}"
    return "same statements, other hash"


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])
