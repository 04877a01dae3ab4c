"""The OCF export validates against the OCF 1.2.0 schema models and matches the cap table."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import UTC, date, datetime

import pytest

from incubation.domain.references import KnownAsset, KnownMember, OwnershipChange
from incubation.domain.spin_off import ExerciseWindow, SpinOff
from incubation.domain.vesting import VestingTerms
from incubation.ocf import OcfInvalid, export, validate
from ipshare_kernel.money import Money

AS_OF = date(2027, 1, 1)
GENERATED_AT = datetime(2027, 1, 1, tzinfo=UTC)


def busy_spin_off() -> SpinOff:
    """Every kind of movement and option event the domain records."""
    company = SpinOff.found(
        name="Laser Co", asset_ids=[uuid.UUID(int=1)], founded_via="capital_contribution",
        share_classes={"common": 10_000_000, "preferred A": 1_000_000}, effective_date=date(2025, 1, 1),
    )  # fmt: skip
    university = KnownMember("uni", "Huaxia University", "university", state_established=True)
    asset = KnownAsset(str(uuid.UUID(int=1)), "laser cladding", (OwnershipChange(date(2024, 5, 1), {"uni": 10_000}),))
    company.contribute_ip(
        member=university, assets=[asset], valuation=Money(3_000_000_00, "CNY"), share_class="common",
        shares=3_000_000, rewards={"alice": 1_500_000}, own_rule_document="", day=date(2025, 1, 2),
    )  # fmt: skip
    company.issue(("investor", "fund"), "preferred A", 500_000, date(2025, 3, 1))
    company.transfer(("member", "uni"), ("member", "corp"), "common", 200_000, date(2025, 4, 1))
    company.repurchase(("investor", "fund"), "preferred A", 100_000, date(2025, 5, 1))
    company.cancel(("researcher", "alice"), "common", 1000, date(2025, 6, 1))
    plan = company.create_plan("ESOP 2025", "common", 1_000_000, date(2025, 1, 1))
    terms = VestingTerms(start=date(2025, 1, 1), milestones={"first sale": 1200}, acceleration="single")
    bob = company.grant_options(plan, "bob", 48_000, terms, date(2035, 1, 1), date(2025, 1, 1),
                                exercise_price=Money(100, "CNY"), window=ExerciseWindow(90, "days"))  # fmt: skip
    carol = company.grant_options(plan, "carol", 4_800, VestingTerms(start=date(2025, 1, 1)), date(2026, 6, 1),
                                  date(2025, 1, 1), exercise_price=Money(150, "CNY"),
                                  window=ExerciseWindow(3, "months"))  # fmt: skip
    company.achieve_vesting_milestone(bob, "first sale", date(2025, 9, 1))
    company.exercise(carol, 1000, date(2026, 2, 1))
    company.depart(carol, without_cause=False, day=date(2026, 3, 1))
    company.expire(carol, date(2026, 6, 1))
    company.change_control(date(2026, 9, 1))
    return company


def package() -> dict[str, object]:
    return export(busy_spin_off(), AS_OF, GENERATED_AT)


def test_the_export_conforms_to_the_ocf_schemas() -> None:
    validate(package())


def test_the_manifest_names_each_file_with_its_md5() -> None:
    exported = package()
    manifest = exported["Manifest.ocf.json"]
    assert isinstance(manifest, dict)
    (ref,) = manifest["transactions_files"]
    body = json.dumps(exported[ref["filepath"]], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert ref["md5"] == hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def test_open_securities_add_up_to_the_cap_table() -> None:
    """Replaying the OCF stock transactions gives the domain's holdings, per stakeholder and class."""
    company = busy_spin_off()
    txs = export(company, AS_OF, GENERATED_AT)["transactions.ocf.json"]["items"]
    securities: dict[str, tuple[str, str, int]] = {}
    for tx in txs:
        if tx["object_type"] == "TX_STOCK_ISSUANCE":
            securities[tx["security_id"]] = (tx["stakeholder_id"], tx["stock_class_id"], int(tx["quantity"]))
    closed = {
        tx["security_id"]
        for tx in txs
        if tx["object_type"].startswith("TX_STOCK_") and "ISSUANCE" not in tx["object_type"]
    }
    held: dict[tuple[str, str], int] = {}
    for security, (holder, share_class, quantity) in securities.items():
        if security not in closed:
            held[(holder, share_class)] = held.get((holder, share_class), 0) + quantity
    expected = {(f"{k}-{i}", c): q for ((k, i), c), q in company.holdings(AS_OF).items()}
    assert held == expected


def test_the_ip_contribution_is_priced_at_its_valuation_per_share() -> None:
    txs = package()["transactions.ocf.json"]["items"]  # type: ignore[index]
    first = next(t for t in txs if t["object_type"] == "TX_STOCK_ISSUANCE")
    assert first["share_price"] == {"amount": "1", "currency": "CNY"}  # CNY 3,000,000 / 3,000,000 shares


def test_a_field_outside_the_schema_is_refused() -> None:
    exported = copy.deepcopy(package())
    exported["stakeholders.ocf.json"]["items"][0]["nickname"] = "x"  # type: ignore[index]
    with pytest.raises(OcfInvalid, match="nickname"):
        validate(exported)


def test_options_carry_their_exercise_price_window_and_lapse() -> None:
    txs = package()["transactions.ocf.json"]["items"]  # type: ignore[index]
    issued = {t["stakeholder_id"]: t for t in txs if t["object_type"] == "TX_EQUITY_COMPENSATION_ISSUANCE"}
    bob, carol = issued["researcher-bob"], issued["researcher-carol"]
    assert bob["exercise_price"] == {"amount": "1", "currency": "CNY"}  # 100 fen
    assert carol["exercise_price"] == {"amount": "1.5", "currency": "CNY"}
    assert {(w["period"], w["period_type"]) for w in carol["termination_exercise_windows"]} == {(3, "MONTHS")}
    assert {w["reason"] for w in bob["termination_exercise_windows"]} >= {"VOLUNTARY_OTHER", "INVOLUNTARY_OTHER"}
    ended = [t for t in txs if t["object_type"] == "TX_EQUITY_COMPENSATION_CANCELLATION"
             and t["security_id"] == carol["security_id"]]  # fmt: skip
    # departed 2026-03-01 with 1,400 vested (1,000 exercised): the rest lapses when the 3-month window ends
    assert [(t["date"], t["quantity"], t["reason_text"]) for t in ended] == [
        ("2026-03-01", "3400", "forfeited on departure"), ("2026-06-01", "400", "expired unexercised"),
    ]  # fmt: skip


def test_stakeholders_carry_their_registered_names_and_the_contribution_its_rule() -> None:
    names = {("member", "uni"): "Huaxia University", ("researcher", "alice"): "Li Wei"}
    exported = export(busy_spin_off(), AS_OF, GENERATED_AT, names=names)
    validate(exported)
    stakeholders = {s["id"]: s["name"]["legal_name"] for s in exported["stakeholders.ocf.json"]["items"]}
    assert stakeholders["member-uni"] == "Huaxia University"
    assert stakeholders["researcher-alice"] == "Li Wei"
    assert stakeholders["investor-fund"] == "investor fund"  # not a registered member or researcher
    first = next(t for t in exported["transactions.ocf.json"]["items"] if t["object_type"] == "TX_STOCK_ISSUANCE")
    (comment,) = first["comments"]
    assert "by a state-established member" in comment
    assert "reward 50.00% of these shares under the statutory floor of 50%" in comment


def test_a_reward_under_an_own_rule_names_its_document() -> None:
    company = SpinOff.found(
        name="Turbine Co", asset_ids=[uuid.UUID(int=2)], founded_via="capital_contribution",
        share_classes={"common": 1000}, effective_date=date(2025, 1, 1),
    )  # fmt: skip
    corp = KnownMember("corp", "Precision Turbines", "enterprise", state_established=False)
    asset = KnownAsset(str(uuid.UUID(int=2)), "blade", (OwnershipChange(date(2024, 5, 1), {"corp": 10_000}),))
    company.contribute_ip(
        member=corp, assets=[asset], valuation=Money(1000_00, "CNY"), share_class="common", shares=1000,
        rewards={"alice": 200}, own_rule_document="PT-HR-2022-11", day=date(2025, 1, 2),
    )  # fmt: skip
    exported = export(company, AS_OF, GENERATED_AT)
    validate(exported)
    issuance = next(t for t in exported["transactions.ocf.json"]["items"] if t["object_type"] == "TX_STOCK_ISSUANCE")
    assert issuance["comments"] == [
        f"IP contributed as capital by a member (contribution {next(iter(company.contributions))}); researchers' "
        "reward 20.00% of these shares under the member's own reward rule, document PT-HR-2022-11 (Law on "
        "Promoting the Transformation of S&T Achievements, art. 45)"
    ]
