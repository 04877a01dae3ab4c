"""A seeded generator of ordinary histories, sent step by step to the services' public APIs.

The world keeps what the services acknowledged (members, researchers, assets and their
owners, licenses and their reports, spin-offs and their holders, periods, the revenue:
cash applied to invoices less refunds, and the members' equity proceeds) so each step
picks a plausible next command, and the checks know what must be there. Business dates
advance with the steps over quarterly periods from 2025; some facts are dated back into
periods already closed.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from client import Answer, Client, Tally

from ipshare.auth import Role

START = date(2025, 1, 1)
SERVICES = ("ip-registry", "commercialization", "incubation", "revenue-share")
CURRENCIES = ("CNY", "USD", "EUR")
KINDS = ("enterprise", "university", "research_institute", "other")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code(n: int) -> str:
    """A valid unified social credit code (GB 32100-2015) numbered n."""
    first17 = f"91310000{n:09d}"
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return first17 + USCC_ALPHABET[(31 - total % 31) % 31]


@dataclass
class Member:
    member_id: str
    kind: str
    state_established: bool
    researchers: list[str] = field(default_factory=list)


@dataclass
class Asset:
    asset_id: str
    owners: dict[str, int]  # as acknowledged most recently (pending confirmations aside)
    awaiting: list[str]  # co-owners yet to confirm
    since: date
    sold: bool = False
    inventors_ever: set[str] = field(default_factory=set)
    owners_ever: set[str] = field(default_factory=set)

    def owned_by(self, owners: dict[str, int]) -> None:
        self.owners = owners
        self.owners_ever |= set(owners)


@dataclass
class Report:
    report_id: str
    start: date
    end: date
    sales: int


@dataclass
class License:
    license_id: str
    asset_ids: list[str]
    currency: str
    reimburses_costs: bool
    start: date
    reported_to: date  # the end of the last quarter reported
    reports: list[Report] = field(default_factory=list)  # those in force, in period order
    # Cash a refund freed that no invoice has taken yet: (the refund's day, amount). The next
    # invoices take it, as revenue dated that day.
    freed: tuple[date, int] | None = None


@dataclass
class SpinOff:
    spin_off_id: str
    name: str
    asset_ids: list[str]
    founded: date
    holders: list[tuple[str, str]]  # (kind, id) of everyone issued shares


@dataclass
class Period:
    period_id: str
    start: date
    end: date
    closed: bool = False


def quarter_of(day: date) -> Period:
    index = (day.month - 1) // 3
    start = date(day.year, 3 * index + 1, 1)
    end = date(day.year + (index == 3), (3 * index + 3) % 12 + 1, 1) - timedelta(days=1)
    return Period(f"{day.year}-Q{index + 1}", start, end)


@dataclass
class World:
    members: list[Member] = field(default_factory=list)
    assets: list[Asset] = field(default_factory=list)
    licenses: list[License] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    affiliation: dict[str, str] = field(default_factory=dict)  # researcher -> member
    spin_offs: list[SpinOff] = field(default_factory=list)
    # Revenue acknowledged, as revenue-share must learn it: (dated, currency, amount): cash applied to
    # invoices, less refunds, and the members' lines of spin-off distributions.
    payments: list[tuple[date, str, int]] = field(default_factory=list)
    policies: int = 0
    equity: int = 0  # distributions paying members
    refunds: int = 0  # corrections that took paid royalty back

    def paid(self, through: date = date.max) -> dict[str, int]:
        """Cash acknowledged as received up to a date, per currency."""
        total: dict[str, int] = {}
        for day, currency, amount in self.payments:
            if day <= through:
                total[currency] = total.get(currency, 0) + amount
        return total

    def researchers_of(self, member_id: str) -> set[str]:
        """Everyone a member's income may reward: the inventors of every asset it ever owned."""
        return {r for a in self.assets if member_id in a.owners_ever for r in a.inventors_ever}

    def member(self, member_id: str) -> Member:
        return next(m for m in self.members if m.member_id == member_id)

    def open_periods(self) -> list[Period]:
        return [p for p in self.periods if not p.closed]


class Generator:
    """One step at a time: advance the business date, then one command (or a crash)."""

    def __init__(self, seed: int, client: Client, tally: Tally, crash: Callable[[str], None],
                 crash_in_flight: bool = True) -> None:  # fmt: skip
        self.rng = random.Random(seed)
        self.client, self.tally, self.crash = client, tally, crash
        self.crash_in_flight = crash_in_flight  # also kill revenue-share while it closes a period
        self.world = World()
        self.today = START
        self.serial = seed * 100_000
        self.log: list[str] = []

    # ---- the step --------------------------------------------------------------------------

    def step(self) -> str:
        self.today += timedelta(days=self.rng.choice((0, 0, 1, 2, 3, 5, 8)))
        self._open_periods_up_to(self.today)
        action = self._choose()
        did = action()
        self.log.append(did)
        return did

    def _choose(self) -> Callable[[], str]:
        w = self.world
        if len(w.members) < 4:
            return self.admit_member
        if len([a for a in w.assets if not a.awaiting]) < 2:
            return self.register_asset if self.rng.random() < 0.7 else self.confirm_ownership
        if self._closable() and self.rng.random() < 0.5:
            return self.close_period
        weighted: list[tuple[Callable[[], str], int]] = [
            (self.admit_member, 3), (self.register_asset, 6), (self.confirm_ownership, 6), (self.transfer, 3),
            (self.sell, 3), (self.correct_inventors, 3), (self.record_cost, 4), (self.grant_license, 6),
            (self.report_and_pay, 25), (self.late_receipt, 5), (self.reimburse_costs, 4),
            (self.center_policy, 2), (self.member_policy, 2), (self.crash_a_service, 3),
            (self.found_spin_off, 2), (self.distribute_proceeds, 4), (self.correct_report, 8),
        ]  # fmt: skip
        [chosen] = self.rng.choices([a for a, _ in weighted], [w for _, w in weighted])
        return chosen

    def _closable(self) -> Period | None:
        due = [p for p in self.world.open_periods() if p.end + timedelta(days=5) < self.today]
        return due[0] if due else None

    def _open_periods_up_to(self, day: date) -> None:
        while not self.world.periods or self.world.periods[-1].end < day:
            period = quarter_of(self.world.periods[-1].end + timedelta(days=1) if self.world.periods else START)
            body = {"period_id": period.period_id, "start": period.start.isoformat(), "end": period.end.isoformat()}
            self._must(self.client.post("revenue-share", "/periods", body, Role.FINANCE), "open period")
            self.world.periods.append(period)

    # ---- plumbing --------------------------------------------------------------------------

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def _pick(self, items: list[Any]) -> Any:
        return self.rng.choice(items) if items else None

    def _must(self, answer: Answer, what: str) -> Any:
        self.tally.count(what, answer)
        if not answer.ok:
            from client import Disagreement

            raise Disagreement(f"{what} was refused: {answer.status} {answer.body}")
        return answer.body

    def _try(self, what: str, answer: Answer) -> Any | None:
        self.tally.count(what, answer)
        return answer.body if answer.ok else None

    def _day_back(self, days: int) -> date:
        return max(START, self.today - timedelta(days=self.rng.randint(0, days)))

    def _split(self, parts: int) -> list[int]:
        cuts = sorted(self.rng.sample(range(1, 100), parts - 1))
        return [(b - a) * 100 for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]

    def _live_assets(self) -> list[Asset]:
        return [a for a in self.world.assets if not a.awaiting and not a.sold]

    # ---- members and assets ----------------------------------------------------------------

    def admit_member(self) -> str:
        kind = self.rng.choice(KINDS)
        state = kind in ("university", "research_institute") and self.rng.random() < 0.7
        n = self._next()
        body = {"name": f"member {n}", "kind": kind, "state_established": state, "credit_code": credit_code(n),
                "effective_date": START.isoformat()}  # fmt: skip
        member = Member(
            self._must(self.client.post("ip-registry", "/members", body), "admit member")["id"], kind, state
        )
        for _ in range(self.rng.randint(1, 3)):
            n = self._next()
            # A staff number makes the researcher's id the same in every run of the seed (a uuid5 of
            # it), so choices among researchers sorted by id are the same too.
            body = {"name": f"researcher {n}", "staff_number": f"S-{n}", "member_id": member.member_id,
                    "effective_date": START.isoformat()}  # fmt: skip
            created = self._must(self.client.post("ip-registry", "/researchers", body), "register researcher")
            member.researchers.append(created["id"])
            self.world.affiliation[created["id"]] = member.member_id
        self.world.members.append(member)
        return f"admit {kind}{' (state)' if state else ''} with {len(member.researchers)} researchers"

    def _inventors(self, owners: list[str]) -> dict[str, int]:
        pool = [r for m in owners for r in self.world.member(m).researchers]
        if self.rng.random() < 0.1:  # a researcher of another member helped
            pool.append(self.rng.choice(list(self.world.affiliation)))
        chosen = self.rng.sample(sorted(set(pool)), min(len(set(pool)), self.rng.randint(1, 3)))
        return dict(zip(chosen, self._split(len(chosen)), strict=True))

    def register_asset(self) -> str:
        owners = self.rng.sample([m.member_id for m in self.world.members], self.rng.randint(1, 3))
        shares = dict(zip(owners, self._split(len(owners)), strict=True))
        inventors = self._inventors(owners)
        day = self._day_back(60)
        body = {
            "title": f"asset {self._next()}", "kind": "invention_patent", "jurisdiction": "CN",
            "registered_by": owners[0], "disclosure_date": day.isoformat(),
            "ownership_effective_date": day.isoformat(),
            "owners": [{"member_id": m, "share_bps": s} for m, s in shares.items()],
            "inventors": [{"researcher_id": r, "contribution_bps": c,
                           "affiliation_member_id": self.world.affiliation[r]} for r, c in inventors.items()],
        }  # fmt: skip
        created = self._must(self.client.post("ip-registry", "/assets", body, Role.MEMBER, owners[0]), "register asset")
        self.world.assets.append(Asset(created["id"], shares, owners[1:], day, inventors_ever=set(inventors),
                                       owners_ever=set(owners)))  # fmt: skip
        return f"register asset of {len(owners)} owners, {len(inventors)} inventors, dated {day}"

    def confirm_ownership(self) -> str:
        pending = [a for a in self.world.assets if a.awaiting]
        asset = self._pick(pending)
        if asset is None:
            return "nothing to confirm"
        member = asset.awaiting[0]
        path = f"/assets/{asset.asset_id}/ownership/confirmations"
        if self._try("confirm ownership", self.client.post("ip-registry", path, {"member_id": member}, Role.MEMBER,
                                                           member)) is not None:  # fmt: skip
            asset.awaiting.pop(0)
        return f"confirm co-ownership ({len(asset.awaiting)} still awaited)"

    def transfer(self) -> str:
        """A transfer of part of a share, often backdated (into a closed period, sometimes)."""
        asset = self._pick(self._live_assets())
        if asset is None or not self.world.members:
            return "no asset to transfer"
        seller = self.rng.choice(sorted(asset.owners))
        buyer = self.rng.choice([m.member_id for m in self.world.members])
        if buyer == seller:
            return "transfer to itself skipped"
        part = self.rng.choice((asset.owners[seller], asset.owners[seller] // 2))
        day = max(asset.since, self._day_back(200))
        body = {"from_member_id": seller, "to_member_id": buyer, "share_bps": part, "effective_date": day.isoformat()}
        if self._try("transfer", self.client.post("ip-registry", f"/assets/{asset.asset_id}/transfers", body)) is None:
            return "transfer refused"
        asset.owners[seller] -= part
        asset.owners[buyer] = asset.owners.get(buyer, 0) + part
        asset.owned_by({m: s for m, s in asset.owners.items() if s})
        return f"transfer {part} bps dated {day}"

    def sell(self) -> str:
        """An assignment agreed by every co-owner: to a member (one transfer per seller, one date)
        or out of the membership; the proceeds are invoiced and paid."""
        asset = self._pick(self._live_assets())
        if asset is None:
            return "no asset to sell"
        outside = self.rng.random() < 0.4
        buyer = None if outside else self.rng.choice([m.member_id for m in self.world.members])
        if buyer in asset.owners:
            return "sale to a co-owner skipped"
        currency = self.rng.choice(CURRENCIES)
        owners = sorted(asset.owners)
        body: dict[str, Any] = {"asset_id": asset.asset_id, "assignee": f"buyer {self._next()}",
                                "proceeds": self.rng.randint(10_000, 5_000_000), "currency": currency,
                                "proposed_by": owners[0], "effective_date": self.today.isoformat()}  # fmt: skip
        if buyer:
            body["assignee_member_id"] = buyer
        proposed = self._try("propose assignment", self.client.post("commercialization", "/assignments", body))
        if proposed is None:
            return "assignment refused"
        assignment_id = proposed["assignment_id"]
        for owner in owners[1:]:
            consent = {"member_id": owner, "effective_date": self.today.isoformat()}
            path = f"/assignments/{assignment_id}/consents"
            self._try("consent to assignment", self.client.post("commercialization", path, consent))
        done = self._await_transfer(assignment_id)
        if done:
            asset.owned_by({buyer: 10_000} if buyer else {})
            asset.sold = not buyer
        paid = self._pay_open(assignment_id, self.today)
        return f"sell asset of {len(owners)} owners {'out of the membership' if outside else 'to a member'}" + (
            f"; proceeds {paid} paid" if paid else "") + ("" if done else "; transfer not completed")  # fmt: skip

    def _await_transfer(self, assignment_id: str) -> bool:
        for _ in range(100):
            found = self.client.get("commercialization", f"/assignments/{assignment_id}", Role.ADMIN)
            if found.ok and found.body["transfer_status"] in ("completed", "refused"):
                return bool(found.body["transfer_status"] == "completed")
            time.sleep(0.2)
        return False

    def correct_inventors(self) -> str:
        asset = self._pick([a for a in self.world.assets if not a.awaiting and a.owners])
        if asset is None:
            return "no asset to correct"
        inventors = self._inventors(sorted(asset.owners))
        day = self.today if self.rng.random() < 0.5 else self._day_back(120)
        body = {"inventors": [{"researcher_id": r, "contribution_bps": c,
                               "affiliation_member_id": self.world.affiliation[r]} for r, c in inventors.items()],
                "reason": "lab notebooks reviewed", "effective_date": day.isoformat()}  # fmt: skip
        path = f"/assets/{asset.asset_id}/inventor-corrections"
        ok = self._try("correct inventors", self.client.post("ip-registry", path, body)) is not None
        if ok:
            asset.inventors_ever |= set(inventors)
        return f"correct inventors dated {day}" + ("" if ok else " refused")

    def record_cost(self) -> str:
        asset = self._pick([a for a in self.world.assets if a.owners])
        if asset is None:
            return "no asset for a cost"
        payer = self.rng.choice(sorted(asset.owners))
        currency = self.rng.choice(CURRENCIES)
        body = {"kind": self.rng.choice(("filing", "annuity", "prosecution")),
                "amount": {"amount_minor": self.rng.randint(1_000, 300_000), "currency": currency},
                "paid_by": payer, "effective_date": self._day_back(90).isoformat()}  # fmt: skip
        ok = self._try("record cost", self.client.post("ip-registry", f"/assets/{asset.asset_id}/costs", body))
        return "record cost" + ("" if ok is not None else " refused")

    # ---- licenses and cash -----------------------------------------------------------------

    def grant_license(self) -> str:
        live = self._live_assets()
        if not live:
            return "no asset to license"
        assets = self.rng.sample(live, min(len(live), self.rng.randint(1, 2)))
        currency = self.rng.choice(CURRENCIES)
        tiers = [{"threshold": 0, "rate_bps": self.rng.choice((300, 500, 800))}]
        if self.rng.random() < 0.5:
            tiers.append({"threshold": self.rng.randint(1, 20) * 1_000_000, "rate_bps": 200})
        reimburses = self.rng.random() < 0.4
        terms = {"currency": currency, "running_royalty": {currency: tiers}, "patent_cost_reimbursement": reimburses,
                 "upfront_fee": self.rng.choice((0, 0, 100_000))}  # fmt: skip
        granter = sorted(assets[0].owners)[0]
        body = {"licensee": f"licensee {self._next()}", "asset_ids": [a.asset_id for a in assets],
                "license_type": "non_exclusive", "territory": ["CN"], "start_date": self.today.isoformat(),
                "effective_date": self.today.isoformat(), "terms": terms, "granted_by": granter}  # fmt: skip
        spin_off = self._pick(self.world.spin_offs) if self.rng.random() < 0.3 else None
        if spin_off:  # a spin-off licensee pays like any other
            body |= {"licensee": spin_off.name, "licensee_kind": "spin_off", "spin_off_id": spin_off.spin_off_id}
        granted = self._try("grant license", self.client.post("commercialization", "/licenses", body))
        if granted is None:
            return "license refused"
        license = License(granted["license_id"], [a.asset_id for a in assets], currency, reimburses, self.today,
                          quarter_of(self.today).start - timedelta(days=1))  # fmt: skip
        self._consent_all(license, granted)
        self.world.licenses.append(license)
        paid = self._pay_open(license.license_id, self.today) if terms["upfront_fee"] else 0
        to = " to a spin-off" if spin_off else ""
        return f"grant license{to} on {len(assets)} assets in {currency}" + (f"; upfront {paid} paid" if paid else "")

    def _consent_all(self, license: License, granted: dict[str, Any]) -> None:
        for member in granted.get("required_consents", []):
            if member not in granted.get("consents", []):
                body = {"member_id": member, "effective_date": self.today.isoformat()}
                path = f"/licenses/{license.license_id}/consents"
                self._try("consent to license", self.client.post("commercialization", path, body))

    def report_and_pay(self) -> str:
        """The licensee reports the next quarter's sales; finance records the payment when it comes."""
        license = self._pick(self.world.licenses)
        if license is None:
            return "no license to report on"
        start = license.reported_to + timedelta(days=1)
        end = quarter_of(start).end
        if end >= self.today:
            return self._pay_some_open()
        sales = self.rng.randint(100_000, 50_000_000)
        line = {"product": "parts", "country": "CN", "currency": license.currency, "gross_sales": sales,
                "deductions": sales // 20}  # fmt: skip
        body = {"period_start": max(start, license.start).isoformat(), "period_end": end.isoformat(),
                "lines": [line], "effective_date": self.today.isoformat()}  # fmt: skip
        path = f"/licenses/{license.license_id}/royalty-reports"
        report = self._try("royalty report", self.client.post("commercialization", path, body, Role.FINANCE))
        if report is None:
            return "royalty report refused"
        license.reported_to = end
        license.reports.append(Report(report["report_id"], max(start, license.start), end, sales))
        self._take_freed(license)
        if self.rng.random() < 0.3:
            return f"royalty report {start}..{end}, not paid yet"
        paid = self._pay_open(license.license_id, self.today)
        return f"royalty report {start}..{end}, paid {paid} {license.currency}"

    def _pay_some_open(self) -> str:
        license = self._pick(self.world.licenses)
        paid = self._pay_open(license.license_id, self.today) if license else 0
        return f"pay what is open: {paid}"

    def late_receipt(self) -> str:
        """Cash that was received weeks ago, recorded only now (often inside a closed period)."""
        license = self._pick(self.world.licenses)
        if license is None:
            return "no license for a late receipt"
        day = max(license.start, self._day_back(150))
        paid = self._pay_open(license.license_id, day)
        return f"late receipt dated {day}: {paid}"

    def reimburse_costs(self) -> str:
        license = self._pick([lic for lic in self.world.licenses if lic.reimburses_costs])
        if license is None:
            return "no license reimbursing costs"
        body = {"amount": self.rng.randint(5_000, 200_000), "currency": license.currency,
                "description": "annuities", "effective_date": self.today.isoformat()}  # fmt: skip
        path = f"/licenses/{license.license_id}/patent-cost-invoices"
        if self._try("patent cost invoice", self.client.post("commercialization", path, body, Role.FINANCE)) is None:
            return "patent cost invoice refused"
        self._take_freed(license)
        paid = self._pay_open(license.license_id, self.today)
        return f"patent costs invoiced and paid: {paid}"

    def correct_report(self) -> str:
        """The licensee corrects a report it was invoiced and paid for: mostly down, so the credit note
        takes back royalty already paid (a refund, which revenue-share learns as negative income dated
        today); the cash it frees stays on the account until the next invoices take it. With no report
        yet, a report."""
        license = self._pick([lic for lic in self.world.licenses if lic.reports and lic.freed is None])
        if license is None:
            return self.report_and_pay()
        paid = self._pay_open(license.license_id, self.today)  # settled first: a credit then takes cash back
        if any(self._account(license.license_id)["unapplied_cash"].values()):
            return f"paid {paid}; correction skipped while cash is unapplied"
        report = self.rng.choice(license.reports[-3:])
        percent = self.rng.choice((0, 10, 40, 70, 90, 130))
        sales = report.sales * percent // 100
        body: dict[str, Any] = {"period_start": report.start.isoformat(), "period_end": report.end.isoformat(),
                                "supersedes": report.report_id, "effective_date": self.today.isoformat()}  # fmt: skip
        if sales:
            body["lines"] = [{"product": "parts", "country": "CN", "currency": license.currency,
                              "gross_sales": sales, "deductions": sales // 20}]  # fmt: skip
        else:
            body["no_sales"] = True
        path = f"/licenses/{license.license_id}/royalty-reports"
        corrected = self._try("corrected royalty report", self.client.post("commercialization", path, body,
                                                                           Role.FINANCE))  # fmt: skip
        if corrected is None:
            return "corrected royalty report refused"
        license.reports[license.reports.index(report)] = Report(corrected["report_id"], report.start, report.end, sales)
        what = f"correct report {report.start}..{report.end} to {percent}% of its sales"
        if percent > 100:
            return f"{what}; the increase paid: {self._pay_open(license.license_id, self.today)}"
        freed = self._account(license.license_id)["unapplied_cash"].get(license.currency, 0)
        if freed:
            self.world.payments.append((self.today, license.currency, -freed))
            self.world.refunds += 1
            license.freed = (self.today, freed)
        return f"{what}: {freed} {license.currency} of royalty paid taken back"

    def _take_freed(self, license: License) -> None:
        """What an invoice just issued took of the cash a refund freed is revenue again, dated the refund's day."""
        if license.freed is None:
            return
        day, held = license.freed
        left = self._account(license.license_id)["unapplied_cash"].get(license.currency, 0)
        if left < held:
            self.world.payments.append((day, license.currency, held - left))
        license.freed = (day, left) if left else None

    def _account(self, deal_id: str) -> dict[str, Any]:
        answer = self.client.get("commercialization", f"/accounts/{deal_id}")
        if not answer.ok:
            from client import Disagreement

            raise Disagreement(f"the account of {deal_id} answered {answer.status}: {answer.body}")
        return dict(answer.body)

    def _pay_open(self, deal_id: str, received: date) -> int:
        """Pay every open invoice of a deal in full (one payment per currency); returns the cash paid."""
        account = self.client.get("commercialization", f"/accounts/{deal_id}")
        if not account.ok:
            return 0
        open_by_currency: dict[str, list[dict[str, Any]]] = {}
        for invoice in account.body["invoices"]:
            if invoice["open_amount"] > 0:
                open_by_currency.setdefault(invoice["currency"], []).append(invoice)
        total = 0
        for currency, invoices in sorted(open_by_currency.items()):
            amount = sum(i["open_amount"] for i in invoices)
            body = {
                "amount": amount,
                "currency": currency,
                "received_date": received.isoformat(),
                "payer_reference": f"PAY-{self._next()}",
                "invoice_ids": [i["invoice_id"] for i in invoices],
            }
            if self._try("payment", self.client.post("commercialization", f"/accounts/{deal_id}/payments", body,
                                                      Role.FINANCE)) is not None:  # fmt: skip
                self.world.payments.append((received, currency, amount))
                total += amount
        return total

    # ---- spin-offs ---------------------------------------------------------------------------

    def found_spin_off(self) -> str:
        """The incubator founds a spin-off on consortium assets, through a license on them or as a
        capital contribution, and issues shares to their owners, their inventors and an investor."""
        if len(self.world.spin_offs) >= 4:
            return "enough spin-offs"
        license = self._pick(self.world.licenses) if self.rng.random() < 0.5 else None
        if license is not None:
            assets = [a for a in self.world.assets if a.asset_id in license.asset_ids]
        else:
            live = self._live_assets()
            assets = self.rng.sample(live, min(len(live), self.rng.randint(1, 2)))
        if not assets:
            return "no asset for a spin-off"
        day = max([self._day_back(90), *(a.since for a in assets), *([license.start] if license else [])])
        name = f"spin-off {self._next()}"
        body: dict[str, Any] = {"name": name, "asset_ids": [a.asset_id for a in assets],
                                "founded_via": "license" if license else "capital_contribution",
                                "share_classes": {"common": 10_000_000}, "effective_date": day.isoformat()}  # fmt: skip
        if license:
            body["license_id"] = license.license_id
        founded = self._try("found spin-off", self.client.post("incubation", "/spin-offs", body, Role.INCUBATOR))
        if founded is None:
            return "spin-off refused"
        spin_off = SpinOff(founded["spin_off_id"], name, body["asset_ids"], day, [])
        members = sorted({m for a in assets for m in a.owners} | {self.rng.choice(self.world.members).member_id})
        researchers = sorted({r for a in assets for r in a.inventors_ever})
        holders = [("member", m) for m in members]
        holders += [("researcher", r) for r in self.rng.sample(researchers, min(len(researchers), 2))]
        holders += [("investor", f"investor {self._next()}")] if self.rng.random() < 0.5 else []
        for holder in holders:
            movement = {"kind": "issuance", "share_class": "common", "quantity": self.rng.randint(1, 40) * 25_000,
                        "holder": {"kind": holder[0], "id": holder[1]}, "effective_date": day.isoformat()}  # fmt: skip
            path = f"/spin-offs/{spin_off.spin_off_id}/share-movements"
            if self._try("issue shares", self.client.post("incubation", path, movement, Role.INCUBATOR)) is not None:
                spin_off.holders.append(holder)
        self.world.spin_offs.append(spin_off)
        via = "a license" if license else "capital contribution"
        return f"found spin-off via {via} on {len(assets)} assets dated {day}, {len(spin_off.holders)} holders"

    def distribute_proceeds(self) -> str:
        """A dividend or an exit of a spin-off, sometimes dated back (into a closed period) and sometimes
        after shares changed hands; the members' lines are revenue-share's equity proceeds. With no
        spin-off yet, one is founded."""
        spin_off = self._pick([s for s in self.world.spin_offs if s.holders])
        if spin_off is None:
            return self.found_spin_off()
        day = max(spin_off.founded, self._day_back(120)) if self.rng.random() < 0.4 else self.today
        moved = self._move_shares(spin_off, day) if self.rng.random() < 0.3 else ""
        currency = self.rng.choice(CURRENCIES)
        kind = "exit" if self.rng.random() < 0.2 else "dividend"
        record = max(spin_off.founded, day - timedelta(days=self.rng.randint(0, 20)))
        body = {"kind": kind, "record_date": record.isoformat(), "effective_date": day.isoformat(),
                "amount": {"amount_minor": self.rng.randint(10_000, 3_000_000), "currency": currency}}  # fmt: skip
        path = f"/spin-offs/{spin_off.spin_off_id}/distributions"
        paid = self._try("distribute proceeds", self.client.post("incubation", path, body, Role.FINANCE))
        if paid is None:
            return f"{kind} refused{moved}"
        members = sum(line["amount_minor"] for line in paid["lines"] if line["holder"]["kind"] == "member")
        if members:
            self.world.payments.append((day, currency, members))
            self.world.equity += 1
        return f"{kind} of {body['amount']['amount_minor']} {currency} dated {day}, {members} to members{moved}"

    def _move_shares(self, spin_off: SpinOff, before: date) -> str:
        """A holder passes shares to a member or researcher, dated between the founding and `before`."""
        day = spin_off.founded + timedelta(days=self.rng.randint(0, (before - spin_off.founded).days))
        table = self.client.get("incubation", f"/spin-offs/{spin_off.spin_off_id}/cap-table", Role.INCUBATOR,
                                as_of=day.isoformat())  # fmt: skip
        held = {(h["holder"]["kind"], h["holder"]["id"]): h["quantity"] for h in table.body.get("holdings", [])
                if h["quantity"] > 1} if table.ok else {}  # fmt: skip
        if not held:
            return ""
        giver = self.rng.choice(sorted(held))
        member = self.rng.choice(self.world.members)
        to = self.rng.choice([("member", member.member_id), *(("researcher", r) for r in member.researchers)])
        if to == giver:
            return ""
        movement = {"kind": "transfer", "share_class": "common", "quantity": held[giver] // 2,
                    "holder": {"kind": giver[0], "id": giver[1]}, "to": {"kind": to[0], "id": to[1]},
                    "effective_date": day.isoformat()}  # fmt: skip
        path = f"/spin-offs/{spin_off.spin_off_id}/share-movements"
        if self._try("transfer shares", self.client.post("incubation", path, movement, Role.INCUBATOR)) is None:
            return "; share transfer refused"
        spin_off.holders.append(to)
        return f"; after a {giver[0]} passed shares to a {to[0]} on {day}"

    # ---- policies, periods, crashes --------------------------------------------------------

    def _center_policy_body(self) -> dict[str, Any]:
        self.world.policies += 1
        brackets: list[dict[str, Any]] = [{"from_amount": 0, "researchers_bps": self.rng.choice((3_000, 5_000, 6_000))}]
        if self.rng.random() < 0.5:  # a threshold in one currency: income in the others stays in the first bracket
            brackets.append({"from_amount": self.rng.randint(1, 10) * 1_000_000, "researchers_bps": 5_000,
                             "currency": self.rng.choice(CURRENCIES)})  # fmt: skip
        return {"version": f"center-{self.world.policies}", "effective_date": self._day_back(120).isoformat(),
                "fee_bps": self.rng.choice((0, 1_000, 1_500)), "recover_costs": self.rng.random() < 0.6,
                "researcher_brackets": brackets}  # fmt: skip

    def center_policy(self) -> str:
        body = self._center_policy_body()
        ok = self._try("center policy", self.client.post("revenue-share", "/policies/center", body))
        return f"center policy {body['version']} dated {body['effective_date']}" + ("" if ok else " refused")

    def member_policy(self) -> str:
        member = self._pick(self.world.members)
        self.world.policies += 1
        inventors = self.rng.choice((0, 2_000, 5_000))
        split = {"member": 10_000 - inventors, "inventors": inventors} if inventors else {"member": 10_000}
        brackets: list[dict[str, Any]] = [{"from_amount": 0, "split": split}]
        if self.rng.random() < 0.4:
            threshold = {"from_amount": self.rng.randint(1, 10) * 1_000_000, "currency": self.rng.choice(CURRENCIES)}
            brackets.append({**threshold, "split": {"member": 5_000, "inventors": 2_000, "department": 3_000}})
        body = {"version": f"member-{self.world.policies}", "effective_date": self._day_back(120).isoformat(),
                "split_brackets": brackets}  # fmt: skip
        ok = self._try("member policy", self.client.post("revenue-share", f"/policies/members/{member.member_id}",
                                                         body))  # fmt: skip
        return f"member policy {body['version']}" + ("" if ok else " refused")

    def close_period(self) -> str:
        """Close the oldest period due; now and then a center policy is posted while it runs."""
        period = self._closable()
        if period is None:
            return "nothing to close"
        racing = self.rng.random() < 0.3
        crash_after = self.rng.uniform(0.0, 0.5) if self.crash_in_flight and self.rng.random() < 0.2 else None
        policy = self._center_policy_body() if racing else None
        answers: dict[str, Answer] = {}
        path = f"/periods/{period.period_id}/close"
        calls = [threading.Thread(target=lambda: answers.update(close=self.client.post("revenue-share", path, {},
                                                                                       Role.FINANCE)))]  # fmt: skip
        if policy:
            calls.append(threading.Thread(target=lambda: answers.update(
                policy=self.client.post("revenue-share", "/policies/center", policy))))  # fmt: skip
        for call in calls:
            call.start()
        if crash_after is not None:  # the client sends it again with the same key once the service is back
            time.sleep(crash_after)
            self.crash("revenue-share")
        for call in calls:
            call.join()
        if policy:
            self.tally.count("center policy during a close", answers["policy"])
        how = (" with a policy racing it" if policy else "") + (
            f" and revenue-share killed {crash_after:.2f} s into it" if crash_after is not None else "")  # fmt: skip
        if self._try("close period", answers["close"]) is None:
            return f"close {period.period_id} refused: {answers['close'].status}{how}"
        period.closed = True
        return f"close {period.period_id}{how}"

    def crash_a_service(self) -> str:
        name = self.rng.choice(SERVICES)
        self.crash(name)
        return f"SIGKILL and restart {name}"
