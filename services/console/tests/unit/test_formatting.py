from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from console.formatting import basis_points, business_date, count, major_amount, money, plain_amount, timestamp


def test_yuan_show_two_decimals_and_thousands_separators_in_both_languages() -> None:
    assert money(1_000_001, "CNY", "zh") == "¥10,000.01"
    assert money(1_000_001, "CNY", "en") == "CN¥10,000.01"
    assert money(100_000_000_00, "CNY", "zh") == "¥100,000,000.00"


def test_other_currencies_keep_their_own_minor_units() -> None:
    assert money(1_234_567, "JPY", "en") == "¥1,234,567"
    assert money(123_456, "USD", "en") == "$1,234.56"
    assert money(5, "EUR", "en") == "€0.05"


def test_negative_amounts_carry_their_sign() -> None:
    assert money(-250, "CNY", "zh") == "-¥2.50"


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["CNY", "USD", "JPY", "EUR"]))
def test_the_shown_amount_is_exactly_the_minor_units(minor: int, currency: str) -> None:
    shown = money(minor, currency, "en")
    digits = "".join(ch for ch in shown if ch.isdigit() or ch in ".-")
    assert Decimal(digits) == major_amount(minor, currency)
    assert Decimal(plain_amount(minor, currency)).scaleb(2 if currency != "JPY" else 0) == minor


def test_counts_and_shares() -> None:
    assert count(10_000_000, "en") == "10,000,000"
    assert basis_points(6000) == "60.00%"
    assert basis_points(3334) == "33.34%"


def test_business_dates_read_naturally_in_each_language() -> None:
    assert business_date(date(2026, 3, 2), "en") == "2026-03-02"
    assert business_date("2026-03-02", "zh") == "2026年3月2日"
    assert business_date(None) == ""


def test_timestamps_show_in_the_centers_time_zone() -> None:
    moment = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)
    assert timestamp(moment, "Asia/Shanghai", "en").startswith("2027-01-01 01:30")
    assert timestamp(moment.isoformat(), "Asia/Shanghai", "zh").startswith("2027年1月1日 01:30")
