"""Seeded histories for the differential simulation of the payouts.

`Simulation(seed)` generates one history step by step (members of every kind, co-owned
assets, transfers, assignments out, inventors and corrections, costs, licenses and receipts
in several currencies, late receipts, equity proceeds, policy versions with brackets,
periods and closes, restarts) and, after every step, checks that the live `Ledger`, a
ledger fed the same facts in another order (as a replay would), and the reference model
(`payout_reference`) agree; that every reconciliation's residual is 0; that issued
statements never change; and that the Art. 45 floor holds on every close (a close the
ledger refuses for it, the reference model refuses alike, and an admin's member policy
then restores it). A failure names the seed and the step: `Simulation(seed).run(steps)`
reproduces it.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from payout_reference import History, comparable, floor_findings, settle

from ipshare_kernel.errors import DomainError
from revenue_share.domain.facts import (
    REIMBURSEMENT_KIND,
    SALE_KIND,
    AssetCost,
    CashReceipt,
    EquityProceeds,
    InventorShares,
    Member,
    MemberKind,
    OwnershipSnapshot,
    Period,
)
from revenue_share.domain.ledger import Ledger
from revenue_share.domain.policy import CenterPolicy, MemberPolicy, ResearcherBracket, SplitBracket
from revenue_share.domain.statements import statement_hash

FIRST_DAY = date(2024, 1, 1)
QUARTERS = 6
CURRENCIES = ("CNY", "USD", "JPY")
# member id -> (kind, state-established); the last one is admitted part-way through a history
MEMBERS: dict[str, tuple[MemberKind, bool]] = {
    "m-ent": (MemberKind.ENTERPRISE, False),
    "m-uni": (MemberKind.UNIVERSITY, True),
    "m-inst": (MemberKind.RESEARCH_INSTITUTE, True),
    "m-priv": (MemberKind.UNIVERSITY, False),
    "m-oth": (MemberKind.OTHER, False),
    "m-late": (MemberKind.UNIVERSITY, True),
}
RESEARCHERS = {"r1": "m-ent", "r2": "m-uni", "r3": "m-uni", "r4": "m-inst", "r5": "m-priv", "r6": "m-oth",
               "r7": "m-late", "r8": "m-ent"}  # fmt: skip
ASSETS = ("A1", "A2", "A3", "A4")


def quarters() -> list[Period]:
    periods, start = [], FIRST_DAY
    for n in range(QUARTERS):
        month = start.month + 3
        following = date(start.year + (month > 12), (month - 1) % 12 + 1, 1)
        periods.append(Period(f"{start.year}-Q{n % 4 + 1}", start, following - timedelta(days=1)))
        start = following
    return periods


@dataclass
class License:
    license_id: str
    asset_ids: tuple[str, ...]
    currency: str
    asset_split: dict[str, int] = field(default_factory=dict)
    kind: str = "royalty"


class Simulation:
    """One generated history, checked after every step."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = datetime(2024, 1, 1, 8, tzinfo=UTC)
        self.today = FIRST_DAY
        self.position = 0
        self.periods = quarters()
        self.facts: list[Any] = []  # facts and policy versions, in the order they were recorded
        self.closes: list[tuple[str, datetime]] = []
        self.issued: dict[str, str] = {}
        self.steps: Counter[str] = Counter()
        self.refused_closes = 0  # closes refused by the Art. 45 check on their outcome
        self.owners: dict[str, dict[str, int]] = {}  # asset -> current owner map ({} once assigned out)
        self.last_ownership: dict[str, date] = {}
        self.admitted: list[str] = []
        self.licenses: list[License] = []
        self.live = self._fresh_ledger()
        self._begin()

    # ---- the facts ---------------------------------------------------------------------------

    def _tick(self) -> datetime:
        self.clock += timedelta(seconds=self.rng.randint(1, 600))
        return self.clock

    def _next_position(self) -> int:
        self.position += 1
        return self.position

    def _learn(self, fact: Any) -> None:
        self.facts.append(fact)
        _add(self.live, fact)

    def _admit(self, member_id: str) -> None:
        kind, state = MEMBERS[member_id]
        self._learn(Member(member_id, kind, state, self._tick()))
        self.admitted.append(member_id)

    def _begin(self) -> None:
        for member_id in list(MEMBERS)[:-1]:
            self._admit(member_id)
        rng = self.rng
        for asset_id in ASSETS:
            if rng.random() < 0.85:  # else: owners unknown until a transfer names them
                self._set_owners(asset_id, date(2023, 6, 1), self._random_owners())
            if rng.random() < 0.85:  # else: inventors unknown until a correction names them
                self._set_inventors(asset_id, date(2023, 1, 1))
        for n in range(5):
            assets = tuple(sorted(rng.sample(ASSETS, rng.choice((1, 1, 2)))))
            split = {}
            if len(assets) == 2 and rng.random() < 0.5:
                first = rng.randint(1, 9_999)
                split = {assets[0]: first, assets[1]: 10_000 - first}
            self.licenses.append(License(f"L{n}", assets, rng.choice(CURRENCIES), split))

    def _random_owners(self) -> dict[str, int]:
        return self._shares(self.rng.sample(self.admitted, self.rng.choice((1, 2, 2, 3))))

    def _shares(self, parties: list[str]) -> dict[str, int]:
        """Random positive basis points for `parties`, summing to 10,000."""
        cuts = sorted(self.rng.sample(range(1, 10_000), len(parties) - 1))
        shares = [b - a for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True)]
        return dict(zip(parties, shares, strict=True))

    def _set_owners(
        self, asset_id: str, day: date, owners: dict[str, int], sellers: dict[str, int] | None = None
    ) -> None:
        fact_id = f"own-{self._next_position()}"
        snapshot = OwnershipSnapshot(fact_id, asset_id, day, owners, self._tick(), sellers or {}, self.position)
        self._learn(snapshot)
        self.owners[asset_id] = dict(owners)
        self.last_ownership[asset_id] = day

    def _set_inventors(self, asset_id: str, day: date) -> None:
        contributions = self._shares(self.rng.sample(sorted(RESEARCHERS), self.rng.choice((1, 2, 3))))
        affiliations = {r: RESEARCHERS[r] for r in contributions}
        fact_id = f"inv-{self._next_position()}"
        self._learn(InventorShares(fact_id, asset_id, day, contributions, affiliations, self._tick(), self.position))

    def _past_day(self, back: int) -> date:
        return max(FIRST_DAY, self.today - timedelta(days=self.rng.randint(0, back)))

    # ---- steps -------------------------------------------------------------------------------

    def step(self) -> str:
        self.today += timedelta(days=self.rng.choice((0, 2, 7, 14, 21, 40)))
        actions: list[tuple[int, Callable[[], bool]]] = [
            (30, self.receipt),
            (8, self.late_receipt),
            (4, self.refund),
            (5, self.transfer),
            (3, self.same_date_sale),
            (1, self.assign_out),
            (4, self.correct_inventors),
            (4, self.cost),
            (2, self.equity),
            (5, self.center_policy),
            (4, self.member_policy),
            (1, self.admit_late_member),
            (8, self.close),
            (2, self.restart),
        ]
        while True:
            action = self.rng.choices([a for _, a in actions], [w for w, _ in actions])[0]
            if action():
                self.steps[action.__name__] += 1
                return action.__name__

    def receipt(self, late: bool = False) -> bool:
        license_ = self.rng.choice(self.licenses)
        amount = self.rng.choice((self.rng.randint(1, 999), self.rng.randint(1_000, 500_000),
                                  self.rng.randint(500_000, 40_000_000)))  # fmt: skip
        if self.rng.random() < 0.05:
            amount = -self.rng.randint(1, 50_000)  # a credit
        day = self._past_day(150) if late else self.today
        receipt_id = f"rc-{self._next_position()}"
        kind = REIMBURSEMENT_KIND if license_.kind != SALE_KIND and self.rng.random() < 0.1 else license_.kind
        self._learn(CashReceipt(receipt_id, license_.license_id, license_.asset_ids, kind, amount,
                                license_.currency, day, self._tick(), license_.asset_split))  # fmt: skip
        return True

    def refund(self) -> bool:
        """Revenue taken back (a credit note on a paid invoice): part of an earlier receipt, negative."""
        paid = [f for f in self.facts if isinstance(f, CashReceipt) and f.amount > 0]
        if not paid:
            return False
        earlier = self.rng.choice(paid)
        amount = -self.rng.randint(1, earlier.amount)
        day = max(earlier.effective_date, self.today - timedelta(days=self.rng.randint(0, 30)))
        self._learn(CashReceipt(f"rf-{self._next_position()}", earlier.license_id, earlier.asset_ids, earlier.kind,
                                amount, earlier.currency, day, self._tick(), earlier.asset_split))  # fmt: skip
        return True

    def late_receipt(self) -> bool:
        return self.receipt(late=True)

    def transfer(self) -> bool:
        """One owner moves part or all of its share to another member, possibly backdated."""
        held = [a for a in ASSETS if self.owners.get(a) or a not in self.owners]
        if not held:
            return False
        asset_id = self.rng.choice(held)
        owners = dict(self.owners.get(asset_id) or {})
        day = max(self.last_ownership.get(asset_id, FIRST_DAY), self._past_day(60))
        if not owners:
            self._set_owners(asset_id, day, self._random_owners())
            return True
        seller = self.rng.choice(sorted(owners))
        buyer = self.rng.choice(self.admitted)
        moved = self.rng.choice((owners[seller], self.rng.randint(1, owners[seller])))
        owners[seller] -= moved
        owners[buyer] = owners.get(buyer, 0) + moved
        self._set_owners(asset_id, day, {m: s for m, s in owners.items() if s})
        return True

    def same_date_sale(self) -> bool:
        """Every co-owner sells its whole share to one member on one date: one snapshot per seller."""
        co_owned = [a for a in ASSETS if len(self.owners.get(a) or {}) >= 2]
        if not co_owned:
            return False
        asset_id = self.rng.choice(co_owned)
        owners = dict(self.owners[asset_id])
        buyer = self.rng.choice([m for m in self.admitted if m not in owners] or self.admitted)
        day = max(self.last_ownership[asset_id], self._past_day(30))
        for seller in sorted(owners, key=lambda _: self.rng.random()):
            if seller == buyer:
                continue
            owners[buyer] = owners.get(buyer, 0) + owners.pop(seller)
            self._set_owners(asset_id, day, dict(owners))
        return True

    def assign_out(self) -> bool:
        """The asset is sold out of the membership; the sale's proceeds go to the sellers."""
        owned = [a for a in ASSETS if self.owners.get(a)]
        if not owned:
            return False
        asset_id = self.rng.choice(owned)
        day = max(self.last_ownership[asset_id], self.today)
        self._set_owners(asset_id, day, {}, sellers=self.owners[asset_id])
        sale = License(f"sale-{asset_id}", (asset_id,), self.rng.choice(CURRENCIES), kind=SALE_KIND)
        self.licenses.append(sale)
        return self.receipt()  # may be the sale's proceeds or another license's

    def correct_inventors(self) -> bool:
        asset_id = self.rng.choice(ASSETS)
        day = self._past_day(200)
        self._set_inventors(asset_id, day)
        if self.rng.random() < 0.3:  # a second correction of the same day
            self._set_inventors(asset_id, day)
        return True

    def cost(self) -> bool:
        asset_id = self.rng.choice(ASSETS)
        currencies = [lic.currency for lic in self.licenses if asset_id in lic.asset_ids] or list(CURRENCIES)
        payer = self.rng.choice(sorted(self.owners.get(asset_id) or {}) or self.admitted)
        cost_id = f"cost-{self._next_position()}"
        self._learn(AssetCost(cost_id, asset_id, self.rng.randint(100, 2_000_000), self.rng.choice(currencies),
                              self._past_day(120), payer, self._tick(), self.position))  # fmt: skip
        return True

    def equity(self) -> bool:
        member_id = self.rng.choice(self.admitted)
        assets = tuple(self.rng.sample(ASSETS, self.rng.choice((0, 1, 2))))
        fact_id = f"eq-{self._next_position()}"
        self._learn(EquityProceeds(fact_id, member_id, "S1", self.rng.randint(1, 3_000_000),
                                   self.rng.choice(CURRENCIES), self._past_day(30), self._tick(), assets))  # fmt: skip
        return True

    def _thresholds(self) -> list[tuple[int, str]]:
        """Bracket thresholds with their currencies (increasing in each); now and then one recorded
        before thresholds had a currency ("": it cuts every currency)."""
        currency = self.rng.choice(CURRENCIES)
        count = self.rng.choice((0, 0, 1, 2))
        cuts = [(t, currency) for t in sorted(self.rng.sample(range(1_000, 60_000_000), count))]
        if self.rng.random() < 0.3:
            cuts.append((self.rng.randint(1_000, 60_000_000), self.rng.choice((*CURRENCIES, ""))))
        increasing: list[tuple[int, str]] = [(0, "")]
        for threshold, code in cuts:
            within = [t for t, c in increasing if c in ("", code) or not code]
            if threshold > max(within):
                increasing.append((threshold, code))
        return increasing

    def _policy(self, policy: CenterPolicy | MemberPolicy) -> bool:
        try:
            self.live.check_policy(policy, by_admin=True)
        except DomainError:
            return False  # refused, as the service refuses it: nothing is recorded
        self.facts.append(policy)
        self.live.add_policy(policy)
        return True

    def center_policy(self) -> bool:
        rng = self.rng
        brackets = tuple(ResearcherBracket(t, rng.choice((2_000, 3_334, 5_000, 6_000, 7_500)), currency)
                         for t, currency in self._thresholds())  # fmt: skip
        minimum = {c: rng.choice((0, 100, 10_000)) for c in rng.sample(CURRENCIES, rng.randint(0, 2))}
        cap = rng.choice((None, None, 5_000))
        version = f"c{self._next_position()}"
        fee = rng.choice((0, 0, 1_500, 3_000))
        policy = CenterPolicy(version, self._past_day(90), self._tick(), fee_bps=fee, recover_costs=rng.random() < 0.6,
                              cost_cap_bps=cap, researcher_brackets=brackets, minimum_payout=minimum,
                              set_by="admin")  # fmt: skip
        return self._policy(policy)

    def member_policy(self) -> bool:
        rng = self.rng
        member_id = rng.choice(self.admitted)
        brackets = []
        for threshold, currency in self._thresholds():
            inventors = rng.choice((0, 2_500, 5_000, 8_000))
            department = rng.choice((0, 1_000))
            split = {"inventors": inventors, "department": department, "member": 10_000 - inventors - department}
            brackets.append(SplitBracket(threshold, {role: bps for role, bps in split.items() if bps}, currency))
        version = f"m{self._next_position()}"
        return self._policy(MemberPolicy(version, member_id, self._past_day(90), self._tick(), tuple(brackets),
                                         set_by="admin"))  # fmt: skip

    def admit_late_member(self) -> bool:
        if "m-late" in self.admitted:
            return False
        self._admit("m-late")
        return True

    def close(self) -> bool:
        period = self.periods[len(self.closes)] if len(self.closes) < len(self.periods) else None
        if period is None or period.end + timedelta(days=3) > self.today:
            return False
        closed_at = self._tick()
        statements = self.live.close_period(period.period_id, closed_at)
        found = [(f.member_id, f.asset_id, f.currency, f.net_income, f.researchers)
                 for f in self.live.floor_shortfalls(period.period_id)]  # fmt: skip
        expected = floor_findings(History(list(self.facts), self.periods, []), period.period_id, closed_at)
        assert found == expected, f"seed {self.seed}: the Art. 45 findings differ: {found} != {expected}"
        if found:  # the service refuses the close and records nothing; an admin raises the member's reward
            self.refused_closes += 1
            self.live = self.rebuilt(self.facts)
            for member_id in sorted({f[0] for f in found}):
                split = (SplitBracket(0, {"inventors": 10_000}),)
                fix = MemberPolicy(f"floor-{self._next_position()}", member_id, FIRST_DAY, self._tick(), split)
                assert self._policy(fix), f"seed {self.seed}: no member policy restores the floor of {member_id}"
            return True
        self.closes.append((period.period_id, closed_at))
        self.issued[period.period_id] = statement_hash(statements)
        self._tick()
        return True

    def restart(self) -> bool:
        """The service restarts: its ledger is rebuilt from the inbox, in the order learned."""
        self.live = self.rebuilt(self.facts)
        return True

    # ---- checks ------------------------------------------------------------------------------

    def _fresh_ledger(self) -> Ledger:
        ledger = Ledger()
        for period in self.periods:
            ledger.define_period(period)
        return ledger

    def rebuilt(self, facts: list[Any]) -> Ledger:
        """A ledger fed `facts` in the given order, then the closes (as a restart or a replay)."""
        ledger = self._fresh_ledger()
        for fact in facts:
            _add(ledger, fact)
        for period_id, closed_at in self.closes:
            ledger.close_period(period_id, closed_at)
        return ledger

    def replayed(self) -> list[Any]:
        """The facts as a replay reads them: in another order, each dated at the first close that
        knew it (else after the last one), as `replay.LearnedAt` dates them; policy versions keep
        the time they were recorded (revenue-share's own events)."""
        times = sorted(closed_at for _, closed_at in self.closes)
        after = self.clock + timedelta(seconds=1)

        def learned(fact: Any) -> Any:
            if isinstance(fact, CenterPolicy | MemberPolicy):
                return fact
            when = next((t for t in times if fact.recorded_at <= t), after)
            if isinstance(fact, CashReceipt):
                return fact._replace(recorded_at=when)
            return dataclasses.replace(fact, recorded_at=when)

        facts = [learned(f) for f in self.facts]
        self.rng.shuffle(facts)
        return facts

    def check(self, where: str, replay: bool) -> None:
        """The live ledger against the reference model, every issued statement against its hash, and,
        with `replay`, a ledger fed the facts as a replay reads them against the live one."""
        reference = settle(History(list(self.facts), self.periods, list(self.closes)))
        other = self.rebuilt(self.replayed()) if replay else None
        for outcome in reference:
            period_id = outcome.period_id
            if outcome.closed_at is None:
                live = self.live.provisional(period_id)
                replayed = other.provisional(period_id) if other else None
            else:
                live = self.live.statements(period_id)
                replayed = other.statements(period_id) if other else None
                assert statement_hash(live) == self.issued[period_id], f"{where}: issued {period_id} changed"
                assert not self.live.floor_shortfalls(period_id), f"{where}: {period_id} closed under the floor"
            if replayed is not None:
                assert statement_hash(replayed) == statement_hash(live), f"{where}: a replay changes {period_id}"
            mine = comparable(live)
            if mine != outcome.statements:
                raise AssertionError(f"{where}: {period_id} differs from the reference model\n" + _diff(
                    mine, outcome.statements))  # fmt: skip
            if outcome.closed_at is None and not replay:
                continue  # an open period's reconciliation is computed again: at the replay's steps only
            for reconciliation in self.live.reconcile(period_id):
                expected = outcome.reconciliation[reconciliation.currency]
                assert reconciliation.residual == 0 == expected.residual, f"{where}: {period_id} residual"
                got = (reconciliation.receipts, reconciliation.carried_in, reconciliation.operating_fees,
                       reconciliation.cost_recoveries, reconciliation.payouts, reconciliation.carried_forward,
                       reconciliation.unallocated)  # fmt: skip
                want = (expected.receipts, expected.carried_in, expected.operating_fees, expected.cost_recoveries,
                        expected.payouts, expected.carried_forward, expected.unallocated)  # fmt: skip
                assert got == want, f"{where}: {period_id} reconciliation {reconciliation.currency}: {got} != {want}"

    def run(self, steps: int, replay_every: int = 1) -> Simulation:
        """`steps` steps, each checked; the replay after every close and restart, every
        `replay_every` steps, and at the end."""
        self.check(f"seed {self.seed}, start", replay=True)
        for n in range(1, steps + 1):
            name = self.step()
            replay = name in ("close", "restart") or n % replay_every == 0 or n == steps
            self.check(f"seed {self.seed}, step {n} ({name})", replay)
        return self


def _add(ledger: Ledger, fact: Any) -> None:
    adders: dict[type, Callable[[Any], bool]] = {
        Member: ledger.add_member,
        OwnershipSnapshot: ledger.add_ownership,
        InventorShares: ledger.add_inventors,
        AssetCost: ledger.add_cost,
        CashReceipt: ledger.add_receipt,
        EquityProceeds: ledger.add_equity_proceeds,
        CenterPolicy: ledger.add_policy,
        MemberPolicy: ledger.add_policy,
    }
    adders[type(fact)](fact)


def _diff(mine: dict[Any, Any], theirs: dict[Any, Any]) -> str:
    lines = []
    for payee in sorted(mine.keys() | theirs.keys()):
        if mine.get(payee) != theirs.get(payee):
            lines.append(f"  {payee}:\n    ledger    {mine.get(payee)}\n    reference {theirs.get(payee)}")
    return "\n".join(lines)
