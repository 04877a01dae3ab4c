"""A portfolio file is saved in one PostgreSQL transaction: a crash after its events were
written, before the commit, leaves nothing; the file sent again is then imported once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from psycopg.sql import SQL, Identifier

from ip_registry.application import IpRegistryApplication
from ip_registry.csv_import import COLUMNS
from ip_registry.domain.identifiers import cn_application_check_character, uscc_check_character
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext, persistence_env
from ipshare_kernel.clock import FixedClock

pytestmark = pytest.mark.integration

ADMIN = CommandContext(Principal(Role.ADMIN, "registrar"))
TODAY = date(2024, 6, 1)
ROWS = 2_000


def credit_code(n: int) -> str:
    first17 = f"91110000{n:09d}"
    return first17 + uscc_check_character(first17)


def portfolio(rows: int) -> str:
    """Granted CN patents and, every third row, an unnumbered disclosure (whose id is random)."""
    lines = [",".join(COLUMNS)]
    for n in range(rows):
        digits = f"20201{n:07d}"
        cells = {
            "title": f"Invention {n}", "kind": "invention_patent", "jurisdiction": "CN",
            "application_number": f"{digits}.{cn_application_check_character(digits)}", "status": "granted",
            "disclosure_date": "2020-01-10", "filing_date": "2020-02-01", "grant_number": f"ZL{n}",
            "grant_date": "2022-05-01", "owners": f"{credit_code(1)}:7000;{credit_code(2)}:3000",
            "inventors": f"Alice Wang@{credit_code(1)}:6000;Bob Li@{credit_code(2)}:4000",
        }  # fmt: skip
        if n % 3 == 0:
            cells |= {"application_number": "", "status": "disclosed", "filing_date": "", "grant_number": "",
                      "grant_date": ""}  # fmt: skip
        lines.append(",".join(cells.get(c, "") for c in COLUMNS))
    return "\n".join(lines) + "\n"


@pytest.fixture
def app(fresh_database: str) -> Iterator[IpRegistryApplication]:
    application = IpRegistryApplication(env=persistence_env(fresh_database), clock=FixedClock.on(TODAY))
    for n in (1, 2):
        application.admit_member(ADMIN, name=f"Member {n}", kind="university", state_established=True,
                                 credit_code=credit_code(n), effective_date=date(2010, 1, 1))  # fmt: skip
    yield application
    application.close()


def event_rows(app: IpRegistryApplication, curs: Any = None) -> int:
    recorder: Any = app.recorder
    query = SQL("SELECT count(*) AS n FROM {}.{}").format(
        Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
    )
    if curs is not None:
        curs.execute(query)
        return int(curs.fetchone()["n"])
    with recorder.datastore.get_connection() as conn, conn.cursor() as own:
        own.execute(query)
        return int(own.fetchone()["n"])


def test_a_crash_before_the_commit_leaves_nothing_and_the_file_is_then_imported_once(
    app: IpRegistryApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = portfolio(ROWS)
    before = event_rows(app)
    seen_in_transaction: list[int] = []

    def crash(curs: Any, stored_events: Any, **_: Any) -> None:
        seen_in_transaction.append(event_rows(app, curs))
        raise OSError("the server went away")

    monkeypatch.setattr(app.recorder, "_fetch_ids_after_insert_events", crash)
    with pytest.raises(OSError, match="went away"):
        app.import_portfolio_csv(ADMIN, text)
    # Every event of the file had been inserted, in one transaction that never committed.
    events = 2 + ROWS * 2 + 1  # two researchers, registered and effective per asset, the file's record
    assert seen_in_transaction == [before + events]
    assert event_rows(app) == before
    assert app.list_assets(ADMIN).items == []

    monkeypatch.undo()
    first = app.import_portfolio_csv(ADMIN, text)
    assert (first.imported, first.errors, first.replayed) == (ROWS, [], False)
    assert event_rows(app) == before + events

    again = app.import_portfolio_csv(ADMIN, text)
    assert (again.asset_ids, again.replayed) == (first.asset_ids, True)
    assert event_rows(app) == before + events  # the unnumbered disclosures were not registered twice
