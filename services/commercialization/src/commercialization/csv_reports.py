"""Royalty-report lines from CSV, as licensees and spreadsheets send them.

All or nothing: the parser returns either every line or the errors of every bad
row (row = line number in the file, the header being row 1), never a part.

Columns (header names, any order): product, country, currency, gross_sales,
deductions (optional, default 0), net_sales (optional: when given it must equal
gross_sales - deductions), field_of_use (optional). Amounts are decimal numbers
in the currency's major unit ("1234.50"), with no more decimals than the currency
has; they become integers in minor units without passing through floats.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

from commercialization.domain.reports import ReportLine
from ipshare_kernel.money import MINOR_UNITS

REQUIRED_COLUMNS = ("product", "country", "currency", "gross_sales")
OPTIONAL_COLUMNS = ("deductions", "net_sales", "field_of_use")
_AMOUNT = re.compile(r"^(?P<sign>-?)(?P<units>\d+)(?:\.(?P<minor>\d+))?$")


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass(frozen=True, slots=True)
class ParsedLines:
    lines: tuple[ReportLine, ...]
    errors: tuple[RowError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def to_minor_units(text: str, currency: str) -> int:
    """'1234.5' USD -> 123450; raises ValueError on a malformed amount or too many decimals."""
    match = _AMOUNT.match(text.strip().replace(",", ""))
    if match is None:
        raise ValueError(f"not an amount: {text!r}")
    digits = MINOR_UNITS[currency]
    minor: str = match["minor"] or ""
    if len(minor) > digits:
        raise ValueError(f"{currency} has {digits} decimal places; got {text!r}")
    value: int = int(match["units"]) * 10**digits + int(minor.ljust(digits, "0") or "0")
    return -value if match["sign"] else value


def parse_report_lines(text: str) -> ParsedLines:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        return ParsedLines((), (RowError(1, ",".join(missing), "missing required columns"),))
    lines: list[ReportLine] = []
    errors: list[RowError] = []
    for row_number, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if isinstance(v, str) or v is None}
        line, row_errors = _parse_row(row_number, row)
        errors.extend(row_errors)
        if line is not None:
            lines.append(line)
    if not lines and not errors:
        errors.append(RowError(1, "", "no report lines (send an explicit 'no sales' report instead)"))
    return ParsedLines((), tuple(errors)) if errors else ParsedLines(tuple(lines), ())


def _parse_row(number: int, row: Mapping[str, str]) -> tuple[ReportLine | None, list[RowError]]:
    errors: list[RowError] = []
    for column in ("product", "country"):
        if not row.get(column):
            errors.append(RowError(number, column, "required"))
    currency = row.get("currency", "").upper()
    if currency not in MINOR_UNITS:
        return None, [*errors, RowError(number, "currency", f"unknown ISO 4217 currency {currency!r}")]
    amounts: dict[str, int] = {}
    for column in ("gross_sales", "deductions", "net_sales"):
        text = row.get(column, "")
        if not text:
            continue
        try:
            amounts[column] = to_minor_units(text, currency)
        except ValueError as exc:
            errors.append(RowError(number, column, str(exc)))
    if "gross_sales" not in amounts and not any(e.column == "gross_sales" for e in errors):
        errors.append(RowError(number, "gross_sales", "required"))
    gross, deductions = amounts.get("gross_sales", 0), amounts.get("deductions", 0)
    if gross < 0 or deductions < 0:
        errors.append(RowError(number, "gross_sales", "sales and deductions cannot be negative"))
    elif deductions > gross:
        errors.append(RowError(number, "deductions", "deductions exceed gross sales"))
    if "net_sales" in amounts and amounts["net_sales"] != gross - deductions:
        errors.append(RowError(number, "net_sales", "net sales differ from gross sales less deductions"))
    if errors:
        return None, errors
    line = ReportLine(
        product=row["product"],
        country=row["country"].upper(),
        currency=currency,
        gross_sales=gross,
        deductions=deductions,
        field_of_use=row.get("field_of_use", ""),
    )
    return line, []
