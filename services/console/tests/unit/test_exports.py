from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import load_workbook

from console.exports import (
    RECONCILIATION_AMOUNTS,
    RECONCILIATION_COLUMNS,
    STATEMENT_COLUMNS,
    reconciliation_rows,
    statement_rows,
    to_csv,
    to_xlsx,
)

STATEMENT = {
    "period_id": "2026",
    "closed_at": None,
    "balances": [],
    "payee": {"kind": "researcher", "id": "r1", "account": ""},
    "lines": [
        {
            "currency": "CNY",
            "step": "researchers_reward",
            "amount": 350_001,
            "policy_version": "center-1",
            "adjustment": False,
            "reason": "",
            "sources_digest": "abc",
        }
    ],
}


CLOSER = {"subject": "oidc|zhou-jie", "name": "周杰", "member_id": None, "role": "finance"}


def test_a_statement_csv_carries_names_and_exact_amounts() -> None:
    rows = statement_rows([STATEMENT], {"researcher:r1": "李伟"})
    text = to_csv(rows, STATEMENT_COLUMNS, ("amount",)).decode()
    assert text.startswith("\ufeffperiod_id,")
    assert "2026,researcher,r1,李伟,,CNY,researchers_reward,3500.01,350001,center-1,False,,abc,,," in text


def test_an_issued_statement_says_who_closed_its_period_and_for_which_member() -> None:
    officer = {"subject": "oidc|sun-yu", "name": "Sun Yu", "member_id": "m-1", "role": "member"}
    for closer, cells in ((CLOSER, "周杰,oidc|zhou-jie,"), (officer, "Sun Yu,oidc|sun-yu,m-1")):
        issued = {**STATEMENT, "closed_at": "2026-12-31T16:00:00+00:00", "closed_by": closer}
        text = to_csv(statement_rows([issued], {}), STATEMENT_COLUMNS, ("amount",)).decode()
        assert text.splitlines()[0].endswith(",closed_by_name,closed_by_subject,closed_by_member_id")
        assert text.splitlines()[1].endswith(f",abc,{cells}")


def test_a_reconciliation_xlsx_holds_the_amounts_as_exact_numbers() -> None:
    row = {
        "period_id": "2026",
        "currency": "JPY",
        "receipts": 1500,
        "carried_in": 0,
        "operating_fees": 0,
        "cost_recoveries": 0,
        "payouts": 1500,
        "carried_forward": 0,
        "residual": 0,
        "unallocated": 0,
        "extra": 1,
    }
    rows = reconciliation_rows([row], CLOSER)
    content = to_xlsx(rows, RECONCILIATION_COLUMNS, RECONCILIATION_AMOUNTS, "reconciliation 2026")
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == list(RECONCILIATION_COLUMNS)
    assert [c.value for c in sheet[2]][-3:] == ["周杰", "oidc|zhou-jie", None]  # openpyxl reads an empty cell as None
    assert Decimal(str(sheet["C2"].value)) == 1500
    assert sheet["C2"].number_format == "#,##0"
