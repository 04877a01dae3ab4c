"""Turning what people type into API bodies, and API errors back into messages beside fields."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from console.api import ApiError
from console.formatting import minor_digits
from ipshare_kernel.money import BASIS_POINTS


class FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def percent_to_bps(field: str, text: str) -> int:
    """`60` or `60.5` (percent) -> 6000 or 6050 basis points, exactly; more than two decimals is an error."""
    try:
        value = Decimal(text.strip().rstrip("%"))
    except InvalidOperation:
        raise FieldError(field, "enter a percentage such as 60 or 33.34") from None
    bps = value * BASIS_POINTS / 100
    if bps != bps.to_integral_value() or not 0 < bps <= BASIS_POINTS:
        raise FieldError(field, "a percentage above 0 and up to 100, with at most two decimals")
    return int(bps)


def amount_to_minor(field: str, text: str, currency: str) -> int:
    """`10,000.01` yuan -> 1000001 fen; more decimals than the currency has is an error, never rounded."""
    try:
        value = Decimal(text.strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        raise FieldError(field, "enter an amount such as 10,000.01") from None
    minor = value.scaleb(minor_digits(currency))
    if minor != minor.to_integral_value():
        raise FieldError(field, f"{currency} has {minor_digits(currency)} decimals")
    if minor <= 0:
        raise FieldError(field, "enter an amount above zero")
    return int(minor)


def field_errors(
    error: ApiError, renames: dict[str, str] | None = None, known: set[str] | None = None
) -> dict[str, str]:
    """The API's messages keyed by form field (`owners.0.share_bps` -> `owners.0.share`); the rest under `_form`."""
    errors: dict[str, str] = {}
    unplaced: list[str] = []
    for api_field, message in error.field_messages().items():
        name = api_field
        for old, new in (renames or {}).items():
            name = name.replace(old, new)
        if known is None or name in known:
            errors.setdefault(name, message)
        else:
            unplaced.append(f"{api_field}: {message}")
    if not errors and not unplaced and known:
        # A domain rule's error names what it is about in its details (`{"application_number": ...}`).
        errors = {name: error.message for name in error.details if name in known}
    if unplaced or not errors:
        errors["_form"] = "; ".join([error.message, *unplaced])
    return errors
