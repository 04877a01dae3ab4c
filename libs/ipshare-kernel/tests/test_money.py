from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipshare_kernel.money import CurrencyError, Money, allocate, basis_points_of, equal_parts


def test_allocate_gives_leftover_units_to_largest_remainders() -> None:
    # 100 split 1:1:1 -> 33.33 each; one unit left, tie broken by key order.
    assert allocate(100, {"b": 1, "a": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}


def test_allocate_by_basis_points() -> None:
    assert allocate(1_000_001, {"m1": 6_000, "m2": 4_000}) == {"m1": 600_001, "m2": 400_000}


def test_allocate_a_credit_mirrors_the_debit() -> None:
    assert allocate(-100, {"a": 1, "b": 2}) == {"a": -33, "b": -67}


def test_allocate_rejects_empty_or_negative_weights() -> None:
    with pytest.raises(ValueError, match="sum"):
        allocate(10, {"a": 0})
    with pytest.raises(ValueError, match="negative"):
        allocate(10, {"a": -1, "b": 2})


@given(
    total=st.integers(min_value=-(10**15), max_value=10**15),
    weights=st.dictionaries(st.text(min_size=1, max_size=4), st.integers(0, 10_000), min_size=1).filter(
        lambda w: sum(w.values()) > 0
    ),
)
def test_allocate_sums_exactly_and_stays_within_one_unit(total: int, weights: dict[str, int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts.values()) == total
    whole = sum(weights.values())
    for key, part in parts.items():
        exact = total * weights[key] / whole
        assert abs(part - exact) < 1 + 1e-6 * abs(exact)
        assert part * total >= 0  # never the opposite sign of the total


def test_money_refuses_floats_mixed_currencies_and_unknown_codes() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(CurrencyError):
        Money(1, "CNY") + Money(1, "USD")
    with pytest.raises(CurrencyError):
        Money(1, "XXZ")
    assert str(Money(123456, "CNY")) == "1234.56 CNY"
    assert str(Money(-5, "JPY")) == "-5 JPY"


def test_basis_points_of_rounds_half_away_from_zero() -> None:
    assert basis_points_of(3, 5_000) == 2
    assert basis_points_of(-3, 5_000) == -2
    assert basis_points_of(10_000, 1) == 1


def _textbook_largest_remainder(total: int, weights: dict[str, int]) -> dict[str, int]:
    """The definition, written plainly: floors, then one unit each by largest remainder, ties by key."""
    sign, total = (-1, -total) if total < 0 else (1, total)
    whole = sum(weights.values())
    floors = {k: total * w // whole for k, w in weights.items()}
    by_remainder = sorted(weights, key=lambda k: (-(total * weights[k] % whole), k))
    for key in by_remainder[: total - sum(floors.values())]:
        floors[key] += 1
    return {k: sign * v for k, v in floors.items()}


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=6, unique=True),
    st.integers(min_value=1, max_value=10_000),
)
def test_allocate_in_equal_parts_follows_the_definition(total: int, keys: list[str], weight: int) -> None:
    weights = dict.fromkeys(keys, weight)
    assert allocate(total, weights) == _textbook_largest_remainder(total, weights)
    assert equal_parts(total, sorted(keys)) == _textbook_largest_remainder(total, weights)


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.dictionaries(st.text(min_size=1, max_size=4), st.integers(min_value=0, max_value=10_000), min_size=1),
)
def test_allocate_follows_the_definition(total: int, weights: dict[str, int]) -> None:
    if sum(weights.values()) > 0:
        assert allocate(total, weights) == _textbook_largest_remainder(total, weights)
