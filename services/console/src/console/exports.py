"""Statements and reconciliations as CSV and XLSX for finance's own tools.

Amounts go out twice: exact in the major unit (a decimal string in CSV, a number with
the currency's decimals in XLSX) and as the integer minor units the services keep, so a
spreadsheet can sum them and a program can check them to the fen.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook

from console.formatting import major_amount, minor_digits, plain_amount

# Who closed the period, so issued its statements and fixed its reconciliation: the act each row comes from.
CLOSED_BY_COLUMNS = ("closed_by_name", "closed_by_subject", "closed_by_member_id")
STATEMENT_COLUMNS = ("period_id", "payee_kind", "payee_id", "payee_name", "account", "currency", "step",
                     "amount", "amount_minor", "policy_version", "adjustment", "reason", "sources_digest",
                     *CLOSED_BY_COLUMNS)  # fmt: skip
RECONCILIATION_AMOUNTS = ("receipts", "carried_in", "operating_fees", "cost_recoveries", "payouts", "carried_forward",
                          "residual", "unallocated")  # fmt: skip
RECONCILIATION_COLUMNS = ("period_id", "currency", *RECONCILIATION_AMOUNTS, *CLOSED_BY_COLUMNS)

Row = dict[str, Any]


def statement_rows(statements: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> list[Row]:
    rows = []
    for statement in statements:
        payee = statement["payee"]
        for line in statement["lines"]:
            rows.append({
                "period_id": statement["period_id"], "payee_kind": payee["kind"], "payee_id": payee["id"],
                "payee_name": names.get(f"{payee['kind']}:{payee['id']}", ""), "account": payee["account"],
                "currency": line["currency"], "step": line["step"], "amount": line["amount"],
                "amount_minor": line["amount"], "policy_version": line["policy_version"],
                "adjustment": line["adjustment"], "reason": line["reason"], "sources_digest": line["sources_digest"],
                **closed_by(statement.get("closed_by")),
            })  # fmt: skip
    return rows


def reconciliation_rows(rows: Sequence[Mapping[str, Any]], closer: Mapping[str, Any] | None) -> list[Row]:
    """The reconciliation's rows, each with who closed the period (`closer`, the period's `closed_by`)."""
    return [{**{column: row[column] for column in ("period_id", "currency", *RECONCILIATION_AMOUNTS)},
             **closed_by(closer)} for row in rows]  # fmt: skip


def closed_by(actor: Mapping[str, Any] | None) -> Row:
    """The closer's name, subject and member acted for; empty while the period is open, or for a close
    recorded before actors were kept."""
    actor = actor or {}
    return {"closed_by_name": actor.get("name") or "", "closed_by_subject": actor.get("subject") or "",
            "closed_by_member_id": actor.get("member_id") or ""}  # fmt: skip


def to_csv(rows: Sequence[Row], columns: Sequence[str], money_columns: Sequence[str]) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese names right."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: plain_amount(v, row["currency"]) if k in money_columns else v for k, v in row.items()})
    return ("\ufeff" + out.getvalue()).encode()


def to_xlsx(rows: Sequence[Row], columns: Sequence[str], money_columns: Sequence[str], title: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_cell(row, column, money_columns) for column in columns])
        digits = minor_digits(row["currency"])
        for index, column in enumerate(columns, start=1):
            if column in money_columns:
                sheet.cell(sheet.max_row, index).number_format = "#,##0" + ("." + "0" * digits if digits else "")
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cell(row: Row, column: str, money_columns: Sequence[str]) -> Any:
    if column in money_columns:
        return major_amount(row[column], row["currency"])  # a Decimal: openpyxl writes it exactly
    return row[column]
