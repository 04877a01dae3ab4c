"""Bulk import: row-level errors, all or nothing, 10,000 rows in one transaction, and a file
imported once however often it is sent.

A failure injected in the middle of the save stores nothing, on the in-memory store and on
PostgreSQL alike (`event_store_env` runs each test on both).
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from eventsourcing.persistence import StoredEvent

from ip_registry.application import ImportReport, IpRegistryApplication
from ip_registry.csv_import import COLUMNS, parse_portfolio_csv
from ip_registry.domain.identifiers import cn_application_check_character
from ip_registry.domain.lifecycle import AssetStatus
from ip_registry.domain.member import member_id_for
from ip_registry.domain.portfolio_import import PortfolioImport, file_sha256
from ipshare_kernel.errors import Conflict

from .conftest import ADMIN, TODAY, Center, credit_code

HEADER = ",".join(COLUMNS)


def cn_number(serial: int, type_digit: int = 1) -> str:
    digits = f"2020{type_digit}{serial:07d}"
    return f"{digits}.{cn_application_check_character(digits)}"


def row(serial: int, **cells: str) -> str:
    values = {
        "title": f"Invention {serial}",
        "kind": "invention_patent",
        "jurisdiction": "CN",
        "application_number": cn_number(serial),
        "status": "filed",
        "disclosure_date": "2020-01-10",
        "filing_date": "2020-02-01",
        "owners": f"{credit_code(1)}:7000;{credit_code(2)}:3000",
        "inventors": f"Alice Wang@{credit_code(1)}:6000;Bob Li@{credit_code(2)}:4000",
    }
    values.update(cells)
    return ",".join(values.get(c, "") for c in COLUMNS)


def csv_of(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def test_every_bad_row_is_reported_with_its_line() -> None:
    text = csv_of(
        row(1),
        row(2, application_number="202010000002.0"),  # wrong check character
        row(3, owners=f"{credit_code(1)}:7000;{credit_code(2)}:2000"),  # sums to 9000
        row(4, filing_date="01/02/2020"),
        row(1),  # the same application as line 2
        row(6, owners="91110000000000001X:10000"),  # bad credit code
        row(7, end_status="lapsed"),  # no end date
    )
    plan = parse_portfolio_csv(text, TODAY)
    assert [(e.line, e.message.split(":")[0]) for e in plan.errors] == [
        (3, "wrong check character in CN application number"),
        (4, "owner shares must sum to 10000 basis points, not 9000"),
        (5, "filing_date is not a date (YYYY-MM-DD)"),
        (6, "same application as line 2"),
        (7, "wrong check character in unified social credit code"),
        (8, "an ended asset needs its end_date"),
    ]


def test_a_file_with_an_unknown_member_imports_nothing(center: Center) -> None:
    app = center.app
    text = csv_of(row(1), row(2, owners=f"{credit_code(1)}:5000;{credit_code(77)}:5000"))
    report = app.import_portfolio_csv(ADMIN, text)
    assert report.imported == 0
    assert [(e.line, e.message) for e in report.errors] == [(3, "not admitted members")]
    assert app.list_assets(ADMIN).items == []


def test_importing_10000_rows_into_the_store(center: Center, app: IpRegistryApplication) -> None:
    text = csv_of(
        *(
            row(n, status="granted", grant_date="2022-05-01", grant_number=f"ZL{n}")
            if n % 2
            else row(n, end_status="abandoned", end_date="2021-01-01")
            for n in range(10_000)
        )
    )
    report = app.import_portfolio_csv(ADMIN, text)
    assert report.errors == []
    assert report.imported == 10_000

    first, last = app.get_asset(ADMIN, report.asset_ids[1]), app.get_asset(ADMIN, report.asset_ids[-1])
    assert first.status is last.status is AssetStatus.GRANTED
    assert app.get_asset(ADMIN, report.asset_ids[0]).status is AssetStatus.ABANDONED
    uni, corp = member_id_for(credit_code(1)), member_id_for(credit_code(2))
    assert first.owners_as_of(date(2020, 2, 1)) == {uni: 7000, corp: 3000}
    assert [(i.name, i.affiliation_member_id) for i in last.inventors] == [("Alice Wang", uni), ("Bob Li", corp)]

    again = app.import_portfolio_csv(ADMIN, csv_of(row(10_001), row(5)))
    assert again.imported == 0
    assert [e.line for e in again.errors] == [3]
    assert app.recorder.max_notification_id() == report_notifications(app)


def report_notifications(app: IpRegistryApplication) -> int:
    # 3 members + 3 researchers (fixture) + 2 imported researchers + 10,000 x (registered, effective)
    # + 5,000 ended + the record of the file.
    return 3 + 3 + 2 + 20_000 + 5_000 + 1


def stored_ids(app: IpRegistryApplication) -> list[uuid.UUID]:
    return [uuid.UUID(str(n.originator_id)) for n in app.notifications_after(0, 100_000)]


def a_file(rows: int = 300) -> str:
    """Numbered applications and, every third row, an unnumbered disclosure (whose id is random)."""
    return csv_of(*(row(n, application_number="", status="disclosed", filing_date="") if n % 3 == 0 else row(n)
                    for n in range(1, rows + 1)))  # fmt: skip


def test_a_clash_in_the_middle_of_the_save_stores_nothing_of_the_file(
    center: Center, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = center.app
    taken = app.import_portfolio_csv(ADMIN, csv_of(row(151))).asset_ids[0]
    before = stored_ids(app)
    # Another request registers line 151's application after the import checked for clashes.
    exists = app._exists
    monkeypatch.setattr(app, "_exists", lambda aggregate_id: aggregate_id != taken and exists(aggregate_id))

    with pytest.raises(Conflict, match="nothing was imported"):
        app.import_portfolio_csv(ADMIN, a_file())
    assert stored_ids(app) == before

    monkeypatch.undo()
    report = app.import_portfolio_csv(ADMIN, a_file())
    assert [(e.line, e.message) for e in report.errors] == [(152, "already registered")]


def test_a_failure_while_the_events_are_written_stores_nothing(center: Center, monkeypatch: pytest.MonkeyPatch) -> None:
    app = center.app
    before = stored_ids(app)
    to_stored_event, written = app.mapper.to_stored_event, []

    def fail_half_way(event: object) -> StoredEvent:
        written.append(event)
        if len(written) == 400:  # of about 600 events
            raise OSError("the disk is full")
        return to_stored_event(event)  # type: ignore[arg-type]

    monkeypatch.setattr(app.mapper, "to_stored_event", fail_half_way)
    with pytest.raises(OSError, match="disk is full"):
        app.import_portfolio_csv(ADMIN, a_file())
    assert stored_ids(app) == before

    monkeypatch.undo()
    report = app.import_portfolio_csv(ADMIN, a_file())
    assert (report.imported, report.errors, report.replayed) == (300, [], False)


def test_the_same_file_sent_again_is_not_imported_twice(center: Center) -> None:
    app = center.app
    text = a_file(30)
    first = app.import_portfolio_csv(ADMIN, text)
    assert (first.imported, first.replayed) == (30, False)
    assert first.import_id == PortfolioImport.create_id(file_sha256(text))
    stored = stored_ids(app)

    again = app.import_portfolio_csv(ADMIN, text)
    assert again == ImportReport(30, first.asset_ids, [], first.import_id, replayed=True)
    assert stored_ids(app) == stored  # the ten unnumbered disclosures were not registered again
    assert len(app.list_assets(ADMIN, limit=500).items) == 30

    # Another file naming the same applications is checked row by row, as before.
    other = app.import_portfolio_csv(ADMIN, text + row(99) + "\n")
    assert [e.line for e in other.errors][:2] == [2, 3]
    assert all(e.message == "already registered" for e in other.errors)


def test_two_identical_files_at_once_import_once(center: Center, monkeypatch: pytest.MonkeyPatch) -> None:
    app = center.app
    text = a_file(30)
    first = app.import_portfolio_csv(ADMIN, text)
    stored = stored_ids(app)
    # The second request looked for the file's record before the first one had committed.
    imported, looks = app._imported, []
    monkeypatch.setattr(app, "_imported", lambda i: imported(i) if looks.append(i) or len(looks) > 1 else None)
    monkeypatch.setattr(app, "_exists", lambda _: False)

    again = app.import_portfolio_csv(ADMIN, text)
    assert (again.asset_ids, again.replayed) == (first.asset_ids, True)
    assert stored_ids(app) == stored
