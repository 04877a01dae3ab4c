"""Pydantic pieces every service's HTTP API shares: strict request bodies, dates and money."""

from __future__ import annotations

import re
import types
from datetime import date, datetime
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from fastapi import Body as BodyParameter
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from ipshare.auth import Role
from ipshare_kernel.actor import Actor
from ipshare_kernel.money import MINOR_UNITS, Money

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(value: Any) -> Any:
    """Only `YYYY-MM-DD` (or a date) is a date: pydantic alone reads 0 or "0" as 1970-01-01."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        return value.strip()
    raise ValueError("a date is written YYYY-MM-DD")


def iso_currency(value: Any) -> Any:
    if isinstance(value, str) and value.strip() not in MINOR_UNITS:
        raise ValueError(f"unknown ISO 4217 currency code {value!r} (known: {', '.join(sorted(MINOR_UNITS))})")
    return value


IsoDate = Annotated[date, BeforeValidator(iso_date)]
"""A date in a query parameter: `YYYY-MM-DD` only (bodies need nothing: `Body` checks its dates)."""


def blank_is_unset(value: Any) -> Any:
    """An empty (or blank) string is no choice: a form or query string sends `kind=` for one left unset."""
    return None if isinstance(value, str) and not value.strip() else value


C = TypeVar("C")
OptionalChoice = Annotated[C | None, BeforeValidator(blank_is_unset)]
"""One of an enum's (or a Literal's) values, or none: null, absent or blank. The document lists the values."""


# What spreadsheets write: UTF-8 (with or without a byte-order mark), or GB18030 (its subset GBK
# included) from a Chinese-locale Excel or WPS.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


def csv_text(value: Any) -> Any:
    """The body of a CSV upload as text, in any of `CSV_ENCODINGS`, with every line ending (CRLF,
    LF, a bare CR as old Mac exports write) made LF, so the csv module reads each as a row end."""
    if isinstance(value, bytes | bytearray):
        value = _decode(bytes(value))
    if not isinstance(value, str):
        raise ValueError("a CSV file is text")
    return value.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _decode(raw: bytes) -> str:
    for encoding in CSV_ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError(f"the CSV is not text in any of: {', '.join(CSV_ENCODINGS)}")


CsvText = Annotated[str, BeforeValidator(csv_text), BodyParameter(media_type="text/csv")]
"""A CSV upload (`Content-Type: text/csv`): UTF-8, UTF-8 with a BOM, or GB18030/GBK."""


def _mentions_date(annotation: Any) -> bool:
    if annotation is date:
        return True
    if get_origin(annotation) in (Union, types.UnionType, list, tuple, set, frozenset, Annotated):
        return any(_mentions_date(arg) for arg in get_args(annotation))
    return False


def _each_date(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return type(value)(_each_date(v) for v in value)
    return value if value is None else iso_date(value)


class Body(BaseModel):
    """A request body: unknown fields are a 422, strings are trimmed, a date is `YYYY-MM-DD`, and a
    field named `currency` (or ending in `_currency`) is a known ISO 4217 code; errors name the field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_dates_and_currencies(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if name == "currency" or name.endswith("_currency"):
            return iso_currency(value)
        if _mentions_date(cls.model_fields[name].annotation):
            return _each_date(value)
        return value


class MoneyIn(Body):
    amount_minor: int = Field(gt=0, description="integer minor units (e.g. fen, cents)")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")

    def money(self) -> Money:
        return Money(self.amount_minor, self.currency)


class MoneyOut(BaseModel):
    amount_minor: int
    currency: str
    formatted: str

    @classmethod
    def of(cls, value: Money) -> MoneyOut:
        return cls(amount_minor=value.amount, currency=value.currency, formatted=str(value))


class ActorOut(BaseModel):
    """Who did something: the token's subject and display name, the role, the member acted for."""

    subject: str
    name: str | None
    member_id: str | None
    role: Role

    @classmethod
    def of(cls, actor: Actor | None) -> ActorOut | None:
        return None if actor is None else cls(subject=actor.subject, name=actor.name, member_id=actor.member_id,
                                              role=actor.role)  # fmt: skip
