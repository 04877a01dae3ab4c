"""`ipshare demo`: one revenue flow through the four services' public HTTP APIs.

Members are admitted and co-own a patent; a license is granted on it and a payment
received; a spin-off is founded on it; revenue-share splits the receipt and finance
reads the payouts and the reconciliation. `Slice` drives the flow and returns what
it saw, so the end-to-end test asserts on exactly what the demo prints.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from ipshare.auth import Role
from ipshare_devtools.stack import StackSettings

CURRENCY = "CNY"
RECEIPT = 1_000_001  # fen (CNY 10,000.01): odd on purpose, so every split has to round
SEED_FUNDING = 1_000_000_00  # fen (CNY 1,000,000), in two milestone-gated tranches


@dataclass
class SliceResult:
    members: dict[str, str] = field(default_factory=dict)  # name -> member id
    researchers: dict[str, str] = field(default_factory=dict)  # name -> researcher id
    asset_id: str = ""
    license_id: str = ""
    spin_off_id: str = ""
    seed_project_id: str = ""
    period_id: str = ""
    receipt: int = RECEIPT
    payouts: list[dict[str, Any]] = field(default_factory=list)
    reconciliation: list[dict[str, Any]] = field(default_factory=list)
    statement_hash: str = ""

    def name_of(self, payee: dict[str, Any]) -> str:
        names = {v: k for k, v in (self.members | self.researchers).items()}
        payee_id = str(payee["id"])
        return names.get(payee_id, payee_id)


class Slice:
    """The flow, step by step, as each user would do it over HTTP."""

    def __init__(self, settings: StackSettings, *, timeout: float = 30.0) -> None:
        self.issuer = settings.dev_issuer()
        self.urls = {s.name: s.base_url for s in settings.services()}
        self.http = httpx.Client(timeout=timeout)
        self.timeout = timeout
        self.result = SliceResult()

    def close(self) -> None:
        self.http.close()

    # ---- plumbing ----------------------------------------------------------------------------

    def _headers(self, role: Role, member_id: str | None = None) -> dict[str, str]:
        token = self.issuer.person_token(role, uuid.UUID(member_id) if member_id else None, name=f"demo {role}")
        return {"Authorization": f"Bearer {token}", "X-Correlation-ID": f"demo-{uuid.uuid4()}"}

    def call(self, method: str, service: str, path: str, role: Role, member_id: str | None = None,
             **kwargs: Any) -> Any:  # fmt: skip
        response = self.http.request(
            method, self.urls[service] + path, headers=self._headers(role, member_id), **kwargs
        )
        if response.is_error:
            raise RuntimeError(f"{method} {service}{path} answered {response.status_code}: {response.text}")
        return response.json()

    # ---- the flow ----------------------------------------------------------------------------

    def run(self) -> SliceResult:
        self.admit_members()
        self.register_patent()
        self.license_and_get_paid()
        self.found_spin_off()
        self.settle()
        return self.result

    def admit_members(self) -> None:
        members = {
            "Huaxia University": ("university", True, "12110000400000624H"),
            "Institute of Advanced Manufacturing": ("research_institute", True, "12100000MB0A111117"),
        }
        for name, (kind, state_established, credit_code) in members.items():
            body = {"name": name, "kind": kind, "state_established": state_established, "credit_code": credit_code}
            self.result.members[name] = self.call("POST", "ip-registry", "/members", Role.ADMIN, json=body)["id"]
        university, institute = self.result.members.values()
        for name, member_id, staff in (("Li Wei", university, "U-1001"), ("Zhang Min", institute, "I-2002")):
            body = {"name": name, "member_id": member_id, "staff_number": staff, "effective_date": "2025-01-01"}
            created = self.call("POST", "ip-registry", "/researchers", Role.MEMBER, member_id, json=body)
            self.result.researchers[name] = created["id"]

    def register_patent(self) -> None:
        """The university registers a co-owned invention patent; the institute confirms its share."""
        university, institute = self.result.members.values()
        li, zhang = self.result.researchers.values()
        body = {
            "title": "Adaptive laser cladding of turbine blades",
            "kind": "invention_patent",
            "jurisdiction": "CN",
            "application_number": "202610123456.X",
            "filing_date": "2026-03-02",
            "ownership_effective_date": "2026-03-02",
            "status": "filed",
            "technology_field": "additive manufacturing",
            "registered_by": university,
            "owners": [{"member_id": university, "share_bps": 6000}, {"member_id": institute, "share_bps": 4000}],
            "inventors": [{"researcher_id": li, "contribution_bps": 7000},
                          {"researcher_id": zhang, "contribution_bps": 3000}],
        }  # fmt: skip
        asset_id = self.call("POST", "ip-registry", "/assets", Role.MEMBER, university, json=body)["id"]
        self.result.asset_id = asset_id
        confirm = {"member_id": institute}
        self.call("POST", "ip-registry", f"/assets/{asset_id}/ownership/confirmations", Role.MEMBER, institute,
                  json=confirm)  # fmt: skip

    def license_and_get_paid(self) -> None:
        """The university licenses the patent non-exclusively at a 5% running royalty; the
        licensee reports a quarter's sales, which is invoiced; finance records the payment."""
        university, _ = self.result.members.values()
        terms = {"currency": CURRENCY, "running_royalty": {CURRENCY: [{"threshold": 0, "rate_bps": 500}]}}
        body = {
            "licensee": "Precision Turbines Co., Ltd.",
            "asset_ids": [self.result.asset_id],
            "license_type": "non_exclusive",
            "territory": ["CN"],
            "start_date": "2026-04-01",
            "effective_date": "2026-04-01",
            "terms": terms,
        }
        license_id = self.call("POST", "commercialization", "/licenses", Role.MEMBER, university, json=body)[
            "license_id"
        ]
        self.result.license_id = license_id
        # Net sales of CNY 200,000.20 at 5% make a royalty of exactly RECEIPT.
        line = {"product": "clad blades", "country": "CN", "currency": CURRENCY, "gross_sales": RECEIPT * 20 + 50_000,
                "deductions": 50_000}  # fmt: skip
        report = {"period_start": "2026-04-01", "period_end": "2026-06-30", "lines": [line]}
        self.call("POST", "commercialization", f"/licenses/{license_id}/royalty-reports", Role.FINANCE, json=report)
        payment = {"amount": RECEIPT, "currency": CURRENCY, "received_date": date.today().isoformat(),
                   "payer_reference": "PT-2026-Q2"}  # fmt: skip
        self.call("POST", "commercialization", f"/accounts/{license_id}/payments", Role.FINANCE, json=payment)

    def found_spin_off(self) -> None:
        """The incubator founds a spin-off on the patent through its license, gives the university
        and Li Wei their shares, and funds a seed project whose first tranche waits for a milestone."""
        university, institute = self.result.members.values()
        li, _ = self.result.researchers.values()
        body = {"name": "Huaxia Laser Cladding Co., Ltd.", "asset_ids": [self.result.asset_id],
                "founded_via": "license", "license_id": self.result.license_id,
                "share_classes": {"common": 10_000_000}, "effective_date": "2026-04-01"}  # fmt: skip
        spin_off_id = self.call("POST", "incubation", "/spin-offs", Role.INCUBATOR, json=body)["spin_off_id"]
        self.result.spin_off_id = spin_off_id
        for holder, quantity in ((("member", university), 3_000_000), (("researcher", li), 2_000_000)):
            movement = {"kind": "issuance", "share_class": "common", "quantity": quantity,
                        "holder": {"kind": holder[0], "id": holder[1]}, "effective_date": "2026-04-01"}  # fmt: skip
            self.call("POST", "incubation", f"/spin-offs/{spin_off_id}/share-movements", Role.INCUBATOR, json=movement)
        project = {
            "title": "Pilot line for clad blades",
            "spin_off_id": spin_off_id,
            "commitments": [
                {"funder_kind": "seed_fund", "funder_id": "center-seed-fund", "amount": _money(SEED_FUNDING // 2)},
                {"funder_kind": "member", "funder_id": institute, "amount": _money(SEED_FUNDING // 2)},
            ],
            "milestones": [
                {"description": "pilot line qualified", "due_date": "2026-09-30", "tranche": _money(400_000_00)},
                {"description": "first series order", "due_date": "2027-03-31", "tranche": _money(600_000_00)},
            ],
            "effective_date": "2026-04-15",
        }
        opened = self.call("POST", "incubation", "/seed-projects", Role.INCUBATOR, json=project)
        self.result.seed_project_id = project_id = opened["seed_project_id"]
        milestone = opened["milestones"][0]["milestone_id"]
        path = f"/seed-projects/{project_id}/milestones/{milestone}"
        self.call("POST", "incubation", f"{path}/evidence", Role.MEMBER, institute,
                  json={"evidence": ["qualification report QR-2026-07"], "effective_date": "2026-07-20"})  # fmt: skip
        self.call("POST", "incubation", f"{path}/approval", Role.INCUBATOR, json={"effective_date": "2026-07-25"})
        self.call("POST", "incubation", f"{path}/release", Role.FINANCE, json={"effective_date": "2026-07-31"})

    def settle(self) -> None:
        """Finance opens this year's period and reads the payouts once revenue-share has the receipt."""
        today = date.today()
        period_id = f"{today.year}"
        body = {"period_id": period_id, "start": f"{today.year}-01-01", "end": f"{today.year}-12-31"}
        self.call("POST", "revenue-share", "/periods", Role.FINANCE, json=body)
        self.result.period_id = period_id
        deadline = time.monotonic() + self.timeout
        while True:
            payouts = self.call("GET", "revenue-share", "/payouts", Role.FINANCE, params={"period_id": period_id})
            if sum(p["entitled"] for p in payouts) == self.result.receipt or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.result.payouts = payouts
        path = f"/periods/{period_id}/reconciliation"
        self.result.reconciliation = self.call("GET", "revenue-share", path, Role.FINANCE)


def _money(amount: int) -> dict[str, Any]:
    return {"amount_minor": amount, "currency": CURRENCY}


def payout_table(result: SliceResult) -> Table:
    table = Table(title=f"Payouts of period {result.period_id} (provisional), {CURRENCY} minor units")
    for column, justify in (("payee", "left"), ("kind", "left"), ("amount", "right"), ("share", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for payout in sorted(result.payouts, key=lambda p: -p["entitled"]):
        share = f"{payout['entitled'] / result.receipt:.4%}"
        table.add_row(result.name_of(payout["payee"]), payout["payee"]["kind"], f"{payout['entitled']:,}", share)
    total = sum(p["entitled"] for p in result.payouts)
    table.add_row("[bold]total[/]", "", f"[bold]{total:,}[/]", f"{total / result.receipt:.4%}")
    return table


def run_demo(settings: StackSettings, console: Console) -> bool:
    """Drive the flow on a running stack; True when the payouts sum exactly to the receipt."""
    flow = Slice(settings)
    try:
        result = flow.run()
    finally:
        flow.close()
    for name, member_id in result.members.items():
        console.print(f"member {name}: {member_id}")
    console.print(f"receipt: {result.receipt:,} {CURRENCY} minor units on license {result.license_id}")
    console.print(
        f"spin-off {result.spin_off_id} founded on the patent; seed project {result.seed_project_id}: "
        "first milestone approved, its tranche released"
    )
    console.print(payout_table(result))
    for row in result.reconciliation:
        console.print(
            f"reconciliation {row['currency']}: receipts {row['receipts']:,} = payouts {row['payouts']:,} "
            f"+ operating fees {row['operating_fees']:,} + cost recoveries {row['cost_recoveries']:,} "
            f"+ carried forward {row['carried_forward']:,}; residual {row['residual']}"
        )
    exact: bool = sum(p["entitled"] for p in result.payouts) == result.receipt
    console.print("[green]the payouts sum exactly to the receipt[/]" if exact else "[red]payouts do not sum up[/]")
    return exact
