"""Open Cap Format (OCF 1.2.0) export of a spin-off's cap table.

OCF tracks *securities*, not positions: every issuance creates a security; a transfer,
repurchase or cancellation consumes securities (oldest first here) and leaves a
balance security for what remains, which OCF requires to be issued by its own
`TX_STOCK_ISSUANCE` on the same day. Options are one equity-compensation security
per grant with its own vesting terms (cumulative rounding, as the domain vests them).

`validate` parses every file with pyocf's models of the OCF JSON schemas, and also
refuses any field those models would silently drop, so what validates is what we send.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pyocf.files.ocfmanifestfile import OCFManifestFile
from pyocf.files.stakeholdersfile import StakeholdersFile
from pyocf.files.stockclassesfile import StockClassesFile
from pyocf.files.stocklegendtemplatesfile import StockLegendTemplatesFile
from pyocf.files.stockplansfile import StockPlansFile
from pyocf.files.transactionsfile import TransactionsFile
from pyocf.files.valuationsfile import ValuationsFile
from pyocf.files.vestingtermsfile import VestingTermsFile

from incubation.domain.cap_table import Holder, Movement
from incubation.domain.spin_off import Contribution, OptionGrant, SpinOff
from ipshare_kernel.money import MINOR_UNITS

OCF_VERSION = "1.2.0"
FILES: dict[str, tuple[str, type[BaseModel]]] = {
    "stakeholders": ("OCF_STAKEHOLDERS_FILE", StakeholdersFile),
    "stock_classes": ("OCF_STOCK_CLASSES_FILE", StockClassesFile),
    "stock_plans": ("OCF_STOCK_PLANS_FILE", StockPlansFile),
    "stock_legend_templates": ("OCF_STOCK_LEGEND_TEMPLATES_FILE", StockLegendTemplatesFile),
    "vesting_terms": ("OCF_VESTING_TERMS_FILE", VestingTermsFile),
    "valuations": ("OCF_VALUATIONS_FILE", ValuationsFile),
    "transactions": ("OCF_TRANSACTIONS_FILE", TransactionsFile),
}
START_DAY = "VESTING_START_DAY_OR_LAST_DAY_OF_MONTH"  # our month arithmetic clamps to the month end


class OcfInvalid(ValueError):
    """The export does not conform to OCF (a defect here, never the user's input)."""


def _stakeholder_id(holder: Holder) -> str:
    return f"{holder[0]}-{holder[1]}"


def _price(amount_minor: int, currency: str, shares: int) -> dict[str, str]:
    per_share = Decimal(amount_minor) / (Decimal(10) ** MINOR_UNITS[currency]) / Decimal(shares)
    return {"amount": format(per_share.quantize(Decimal("1.0000000000")).normalize(), "f"), "currency": currency}


@dataclass
class _Ledger:
    """Open stock securities per holder and class, consumed oldest first."""

    currency: str
    transactions: list[dict[str, Any]] = field(default_factory=list)
    open: dict[tuple[Holder, str], deque[tuple[str, int]]] = field(default_factory=dict)
    count: int = 0

    def next_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}-{self.count}"

    def issue(
        self, holder: Holder, share_class: str, quantity: int, day: date, price: dict[str, str],
        comments: list[str] | None = None,
    ) -> str:  # fmt: skip
        security = self.next_id("CS")
        self.transactions.append({
            "object_type": "TX_STOCK_ISSUANCE", "id": f"tx-{security}", "security_id": security,
            "custom_id": security, "stakeholder_id": _stakeholder_id(holder), "stock_class_id": share_class,
            "date": day.isoformat(), "quantity": str(quantity), "share_price": price,
            "security_law_exemptions": [], "stock_legend_ids": [], **({"comments": comments} if comments else {}),
        })  # fmt: skip
        self.open.setdefault((holder, share_class), deque()).append((security, quantity))
        return security

    def consume(self, m: Movement, target: Holder | None) -> None:
        """Take `m.quantity` from the source's oldest securities; issue the balance and the transferee's part."""
        assert m.source is not None
        left, securities = m.quantity, self.open[(m.source, m.share_class)]
        while left:
            security, held = securities.popleft()
            taken = min(held, left)
            left -= taken
            record: dict[str, Any] = {"id": self.next_id("tx"), "security_id": security, "date": m.day.isoformat(),
                                      "quantity": str(taken)}  # fmt: skip
            if target is not None:
                resulting = self.issue(target, m.share_class, taken, m.day, self.zero_price())
                record |= {"object_type": "TX_STOCK_TRANSFER", "resulting_security_ids": [resulting]}
            elif m.kind == "repurchase":
                record |= {"object_type": "TX_STOCK_REPURCHASE", "price": self.zero_price()}
            else:
                record |= {"object_type": "TX_STOCK_CANCELLATION", "reason_text": m.kind}
            if held > taken:
                record["balance_security_id"] = self._balance(m.source, m.share_class, held - taken, m.day)
            self.transactions.append(record)

    def _balance(self, holder: Holder, share_class: str, quantity: int, day: date) -> str:
        balance = self.issue(holder, share_class, quantity, day, self.zero_price())
        # the balance security joins the front: it is the holder's oldest stock
        securities = self.open[(holder, share_class)]
        securities.rotate(1)
        return balance

    def zero_price(self) -> dict[str, str]:
        return {"amount": "0", "currency": self.currency}


def export(
    spin_off: SpinOff, as_of: date, generated_at: datetime, names: Mapping[Holder, str] | None = None
) -> dict[str, Any]:
    """The OCF package: a manifest and its files, each file's md5 over its canonical JSON.

    `names` gives stakeholders' registered names; anyone not named there appears by kind and id."""
    currency = next((c.valuation.currency for c in spin_off.contributions.values()), "CNY")
    ledger = _Ledger(currency)
    contributed = {f"ip contribution {c.contribution_id}": c for c in spin_off.contributions.values()}
    grant_security = {g.grant_id: f"EC-{g.grant_id}" for g in spin_off.grants.values()}
    for m in sorted(spin_off.movements, key=lambda m: (m.day, m.sequence)):
        if m.day > as_of:
            break
        if m.kind == "issuance" and m.target is not None:
            c = contributed.get(_note_of(spin_off, m))
            price = _price(c.valuation.amount, c.valuation.currency, c.shares) if c else ledger.zero_price()
            ledger.issue(m.target, m.share_class, m.quantity, m.day, price, _contribution_comments(c) if c else None)
        elif m.kind == "exercise" and m.target is not None:
            grant_id = _note_of(spin_off, m).removeprefix("grant ")
            resulting = ledger.issue(m.target, m.share_class, m.quantity, m.day, ledger.zero_price())
            ledger.transactions.append({
                "object_type": "TX_EQUITY_COMPENSATION_EXERCISE", "id": ledger.next_id("tx"),
                "security_id": grant_security[grant_id], "date": m.day.isoformat(), "quantity": str(m.quantity),
                "resulting_security_ids": [resulting],
            })  # fmt: skip
        else:
            ledger.consume(m, m.target)
    for grant in spin_off.grants.values():
        if grant.granted_on <= as_of:
            ledger.transactions.extend(_option_transactions(spin_off, grant, grant_security[grant.grant_id], as_of))
    files = {
        "stakeholders": _stakeholders(spin_off, names or {}),
        "stock_classes": [_stock_class(name, n) for name, n in sorted(spin_off.authorized.items())],
        "stock_plans": [
            {
                "object_type": "STOCK_PLAN",
                "id": p.plan_id,
                "plan_name": p.name,
                "initial_shares_reserved": str(p.pool_size),
                "stock_class_ids": [p.share_class],
            }
            for p in spin_off.plans.values()
        ],
        "stock_legend_templates": [],
        "vesting_terms": [_vesting_terms(g) for g in spin_off.grants.values() if g.granted_on <= as_of],
        "valuations": [],
        "transactions": sorted(ledger.transactions, key=lambda t: t["date"]),
    }
    package: dict[str, Any] = {
        f"{name}.ocf.json": {"file_type": FILES[name][0], "items": items} for name, items in files.items()
    }
    manifest: dict[str, Any] = {
        "file_type": "OCF_MANIFEST_FILE", "ocf_version": OCF_VERSION, "as_of": as_of.isoformat(),
        "generated_at": generated_at.isoformat(),
        "issuer": {"object_type": "ISSUER", "id": str(spin_off.id), "legal_name": spin_off.name,
                   "formation_date": spin_off.founded_on.isoformat(), "country_of_formation": "CN"},
    }  # fmt: skip
    for name in FILES:
        filename = f"{name}.ocf.json"
        digest = hashlib.md5(_canonical(package[filename]), usedforsecurity=False).hexdigest()
        manifest[f"{name}_files"] = [{"filepath": filename, "md5": digest}]
    return {"Manifest.ocf.json": manifest, **package}


def _contribution_comments(c: Contribution) -> list[str]:
    """IP contributed as capital (Art. 45): the researchers' reward and the rule it follows."""
    rule = (f"the member's own reward rule, document {c.own_rule_document}" if c.own_rule_document
            else "the statutory floor of 50%")  # fmt: skip
    established = "a state-established member" if c.state_established else "a member"
    return [
        f"IP contributed as capital by {established} (contribution {c.contribution_id}); researchers' reward "
        f"{c.reward_bps / 100:.2f}% of these shares under {rule} (Law on Promoting the Transformation of "
        "S&T Achievements, art. 45)"
    ]


def _note_of(spin_off: SpinOff, m: Movement) -> str:
    return spin_off.movement_notes.get(m.sequence, "")


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _stakeholders(spin_off: SpinOff, names: Mapping[Holder, str]) -> list[dict[str, Any]]:
    return [
        {"object_type": "STAKEHOLDER", "id": _stakeholder_id(h), "issuer_assigned_id": h[1],
         "name": {"legal_name": names.get(h) or f"{h[0]} {h[1]}"},
         "stakeholder_type": "INDIVIDUAL" if h[0] == "researcher" else "INSTITUTION"}
        for h in spin_off.stakeholders()
    ]  # fmt: skip


def _stock_class(name: str, authorized: int) -> dict[str, Any]:
    preferred = "pref" in name.lower()
    return {
        "object_type": "STOCK_CLASS", "id": name, "name": name, "class_type": "PREFERRED" if preferred else "COMMON",
        "default_id_prefix": "PS-" if preferred else "CS-", "initial_shares_authorized": str(authorized),
        "votes_per_share": "1", "seniority": "2" if preferred else "1",
    }  # fmt: skip


def _vesting_terms(grant: OptionGrant) -> dict[str, Any]:
    """Start, cliff, then equal steps of the time-based part; one event condition per milestone."""
    t = grant.terms
    time_based = grant.quantity - sum(t.milestones.values())
    steps = t.total_months // t.frequency_months
    cliff_steps = -(-t.cliff_months // t.frequency_months)  # steps vested at once on the cliff
    conditions: list[dict[str, Any]] = []

    def relative(cid: str, months: int, occurrences: int, steps_each: int, after: str) -> dict[str, Any]:
        portion = {"numerator": str(time_based * steps_each), "denominator": str(grant.quantity * steps)}
        return {"id": cid, "portion": portion, "next_condition_ids": [],
                "trigger": {"type": "VESTING_SCHEDULE_RELATIVE", "relative_to_condition_id": after,
                            "period": {"type": "MONTHS", "length": months, "occurrences": occurrences,
                                       "day_of_month": START_DAY}}}  # fmt: skip

    milestone_ids = [f"milestone-{n}" for n in sorted(t.milestones)]
    after_start: list[str] = []
    start = {"id": "start", "quantity": "0", "trigger": {"type": "VESTING_START_DATE"},
             "next_condition_ids": after_start}  # fmt: skip
    conditions.append(start)
    if time_based:
        after = "start"
        if cliff_steps:
            conditions.append(relative("cliff", cliff_steps * t.frequency_months, 1, cliff_steps, "start"))
            after = "cliff"
        if steps > cliff_steps:
            conditions.append(relative("steps", t.frequency_months, steps - cliff_steps, 1, after))
        after_start.append(conditions[1]["id"])
        if len(conditions) == 3:
            conditions[1]["next_condition_ids"] = ["steps"]
    for name, cid in zip(sorted(t.milestones), milestone_ids, strict=True):
        conditions.append({"id": cid, "description": name, "quantity": str(t.milestones[name]),
                           "trigger": {"type": "VESTING_EVENT"}, "next_condition_ids": []})  # fmt: skip
        after_start.append(cid)
    return {
        "object_type": "VESTING_TERMS", "id": f"vesting-{grant.grant_id}", "name": f"grant {grant.grant_id}",
        "description": f"{t.total_months} months, {t.cliff_months}-month cliff, every {t.frequency_months} "
                       f"month(s); acceleration {t.acceleration}",
        "allocation_type": "CUMULATIVE_ROUNDING", "vesting_conditions": conditions,
    }  # fmt: skip


def _option_transactions(spin_off: SpinOff, g: OptionGrant, security: str, as_of: date) -> list[dict[str, Any]]:
    plan = spin_off.plans[g.plan_id]
    txs: list[dict[str, Any]] = [{
        "object_type": "TX_EQUITY_COMPENSATION_ISSUANCE", "id": f"tx-{security}", "security_id": security,
        "custom_id": security, "stakeholder_id": _stakeholder_id(("researcher", g.researcher_id)),
        "date": g.granted_on.isoformat(), "compensation_type": "OPTION", "quantity": str(g.quantity),
        "stock_plan_id": plan.plan_id, "stock_class_id": plan.share_class, "vesting_terms_id": f"vesting-{g.grant_id}",
        "expiration_date": g.expires_on.isoformat(),
        "exercise_price": _price(g.exercise_price.amount, g.exercise_price.currency, 1),
        "security_law_exemptions": [], "termination_exercise_windows": _windows(g),
    }, {"object_type": "TX_VESTING_START", "id": f"tx-{security}-start", "security_id": security,
        "date": g.terms.start.isoformat(), "vesting_condition_id": "start"}]  # fmt: skip
    for name, day in sorted(g.achieved.items()):
        if day <= as_of:
            txs.append({"object_type": "TX_VESTING_EVENT", "id": f"tx-{security}-{name}", "security_id": security,
                        "date": day.isoformat(), "vesting_condition_id": f"milestone-{name}"})  # fmt: skip
    if g.accelerated_on and g.accelerated_on <= as_of:
        txs.append({"object_type": "TX_VESTING_ACCELERATION", "id": f"tx-{security}-acceleration",
                    "security_id": security, "date": g.accelerated_on.isoformat(),
                    "quantity": str(g.quantity - g.vested(g.accelerated_on - timedelta(days=1))),
                    "reason_text": "change of control" if g.accelerated_on == spin_off.change_of_control_on
                    else "departure without cause after a change of control"})  # fmt: skip
    lapsed = g.quantity - g.exercised_by(g.lapses_on) - g.forfeited
    endings: list[tuple[int, date | None, str]] = [
        (g.forfeited, g.departed_on, "forfeited on departure"), (lapsed, g.lapses_on, "expired unexercised"),
    ]  # fmt: skip
    for quantity, ended_on, reason in endings:
        if quantity and ended_on and ended_on <= as_of:
            txs.append({"object_type": "TX_EQUITY_COMPENSATION_CANCELLATION", "id": f"tx-{security}-{reason[:7]}",
                        "security_id": security, "date": ended_on.isoformat(), "quantity": str(quantity),
                        "reason_text": reason})  # fmt: skip
    return txs


TERMINATION_REASONS = (
    "VOLUNTARY_OTHER", "VOLUNTARY_GOOD_CAUSE", "VOLUNTARY_RETIREMENT", "INVOLUNTARY_OTHER", "INVOLUNTARY_DEATH",
    "INVOLUNTARY_DISABILITY", "INVOLUNTARY_WITH_CAUSE",
)  # fmt: skip


def _windows(g: OptionGrant) -> list[dict[str, Any]]:
    """The post-departure exercise window, the same whatever the reason for leaving (none: until expiry)."""
    if not g.window.length:
        return []
    period_type = g.window.unit.upper()
    return [{"reason": reason, "period": g.window.length, "period_type": period_type} for reason in TERMINATION_REASONS]


def validate(package: dict[str, Any]) -> None:
    """Raise `OcfInvalid` unless every file parses as its OCF schema, dropping nothing."""
    files: dict[str, tuple[str, type[BaseModel]]] = {f"{k}.ocf.json": v for k, v in FILES.items()}
    files["Manifest.ocf.json"] = ("OCF_MANIFEST_FILE", OCFManifestFile)
    for filename, (_, model) in files.items():
        data = package[filename]
        try:
            parsed = model.model_validate(data)
        except ValueError as exc:
            raise OcfInvalid(f"{filename}: {exc}") from exc
        dumped = json.loads(parsed.model_dump_json(exclude_none=True))
        if _canonical(dumped) != _canonical(data):
            raise OcfInvalid(f"{filename}: fields outside the OCF schema: {_difference(data, dumped)}")


def _difference(sent: Any, kept: Any, path: str = "") -> str:
    if isinstance(sent, dict) and isinstance(kept, dict):
        for key in sent:
            if key not in kept:
                return f"{path}.{key}"
            if found := _difference(sent[key], kept[key], f"{path}.{key}"):
                return found
    elif isinstance(sent, list) and isinstance(kept, list):
        for n, (a, b) in enumerate(zip(sent, kept, strict=False)):
            if found := _difference(a, b, f"{path}[{n}]"):
                return found
    elif sent != kept:
        return f"{path} ({sent!r} became {kept!r})"
    return ""
