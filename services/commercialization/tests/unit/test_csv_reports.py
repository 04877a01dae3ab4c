from __future__ import annotations

import pytest

from commercialization.csv_reports import RowError, parse_report_lines, to_minor_units
from commercialization.domain.reports import ReportLine

HEADER = "product,country,currency,gross_sales,deductions,net_sales,field_of_use\n"


def test_good_rows_become_lines_in_minor_units() -> None:
    parsed = parse_report_lines(HEADER + "cell-A,cn,CNY,1234.5,34.50,1200,\nchip,JP,JPY,100000,0,,robots\n")
    assert parsed.ok
    assert parsed.lines == (
        ReportLine("cell-A", "CN", "CNY", 123_450, 3_450, ""),
        ReportLine("chip", "JP", "JPY", 100_000, 0, "robots"),
    )


def test_every_bad_row_is_reported_and_no_line_is_returned() -> None:
    text = (
        HEADER
        + "cell,CN,CNY,10.00,0,10.00,\n,CN,XXX,1,0,,\ncell,CN,CNY,1.234,0,,\ncell,CN,CNY,5,6,,\ncell,CN,CNY,5,1,3,\n"
    )
    parsed = parse_report_lines(text)
    assert parsed.lines == ()
    assert parsed.errors == (
        RowError(3, "product", "required"),
        RowError(3, "currency", "unknown ISO 4217 currency 'XXX'"),
        RowError(4, "gross_sales", "CNY has 2 decimal places; got '1.234'"),
        RowError(5, "deductions", "deductions exceed gross sales"),
        RowError(6, "net_sales", "net sales differ from gross sales less deductions"),
    )


def test_missing_columns_and_empty_files() -> None:
    assert parse_report_lines("product,country\ncell,CN\n").errors == (
        RowError(1, "currency,gross_sales", "missing required columns"),
    )
    assert not parse_report_lines(HEADER).ok


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("1", "USD", 100), ("1.5", "USD", 150), ("1,234.56", "CNY", 123_456), ("-0.01", "EUR", -1), ("500", "JPY", 500)],
)
def test_amounts_become_exact_minor_units(text: str, currency: str, minor: int) -> None:
    assert to_minor_units(text, currency) == minor


@pytest.mark.parametrize(("text", "currency"), [("1.5", "JPY"), ("abc", "USD"), ("1e3", "USD")])
def test_malformed_amounts_are_refused(text: str, currency: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        to_minor_units(text, currency)
