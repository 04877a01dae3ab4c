from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.api import ApiError
from console.formatting import plain_amount
from console.forms import FieldError, amount_to_minor, field_errors, percent_to_bps


def test_percentages_become_exact_basis_points() -> None:
    assert percent_to_bps("s", "60") == 6000
    assert percent_to_bps("s", "33.34%") == 3334
    assert percent_to_bps("s", " 100 ") == 10_000


@pytest.mark.parametrize("text", ["", "abc", "0", "100.01", "33.333", "-5"])
def test_a_share_that_is_not_a_percentage_names_its_field(text: str) -> None:
    with pytest.raises(FieldError) as raised:
        percent_to_bps("owners.1.share", text)
    assert raised.value.field == "owners.1.share"


def test_amounts_are_read_in_the_major_unit_without_rounding() -> None:
    assert amount_to_minor("amount", "10,000.01", "CNY") == 1_000_001
    assert amount_to_minor("amount", "1500", "JPY") == 1500
    with pytest.raises(FieldError, match="2 decimals"):
        amount_to_minor("amount", "1.001", "CNY")
    with pytest.raises(FieldError, match="decimals"):
        amount_to_minor("amount", "1.5", "JPY")
    with pytest.raises(FieldError):
        amount_to_minor("amount", "0", "CNY")


@given(st.integers(min_value=1, max_value=10**14), st.sampled_from(["CNY", "USD", "JPY"]))
def test_an_amount_typed_as_shown_reads_back_to_the_same_minor_units(minor: int, currency: str) -> None:
    assert amount_to_minor("amount", plain_amount(minor, currency), currency) == minor


def test_api_errors_land_beside_the_form_field_they_concern() -> None:
    error = ApiError(
        "ip-registry",
        422,
        "invalid_request",
        "invalid value for: owners.0.share_bps, title",
        {"problems": [{"field": "owners.0.share_bps", "message": "too big"}, {"field": "title", "message": "empty"}]},
    )
    errors = field_errors(error, {"share_bps": "share"}, {"owners.0.share", "title"})
    assert errors == {"owners.0.share": "too big", "title": "empty"}


def test_an_error_about_no_field_of_the_form_is_shown_above_it() -> None:
    error = ApiError("incubation", 409, "conflict", "milestone m1 is still open", {"open_milestone": "m1"})
    assert field_errors(error, known={"reason"}) == {"_form": "milestone m1 is still open"}
    odd = ApiError("x", 422, "invalid_request", "bad", {"problems": [{"field": "other", "message": "nope"}]})
    assert field_errors(odd, known={"title"}) == {"_form": "bad; other: nope"}


def test_a_domain_rule_naming_a_field_in_its_details_lands_beside_that_field() -> None:
    error = ApiError("ip-registry", 422, "rule_violated", "wrong check character in CN application number",
                     {"application_number": "202510999888.1", "expected": "2"})  # fmt: skip
    assert field_errors(error, known={"application_number", "title"}) == {
        "application_number": "wrong check character in CN application number"
    }
