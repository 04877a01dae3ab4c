"""Issued statements stored by earlier versions load into the current aggregate.

`stored_v1/issued_statements.json` holds stored `IssuedStatement.Issued` events in the form
the code before class version 2 wrote them, as the event store keeps them: one issued when a
line carried one digest per source group (`source_digests`), one issued after lines carried one
digest over them (`sources_digest`). Version 2 upcasts the first to the second.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from ipshare_contracts.revenueshare.v1 import events_pb2 as pb
from revenue_share.application import RevenueShareApplication
from revenue_share.catalog import build_catalog
from revenue_share.domain.settlement import IssuedStatement
from revenue_share.domain.statements import sources_digest
from revenue_share.replay import issued_digest

FIXTURE = Path(__file__).parent / "stored_v1" / "issued_statements.json"
ROWS: list[dict[str, Any]] = json.loads(FIXTURE.read_text())
BEFORE, AFTER = ROWS  # issued before the one digest per line, and after it


def stored(row: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=uuid.UUID(row["originator_id"]),
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=json.dumps(row["state"]).encode(),
    )


@pytest.fixture
def app() -> Iterator[RevenueShareApplication]:
    application = RevenueShareApplication()  # in memory: the stored rows are what is under test
    application.recorder.insert_events([stored(row) for row in ROWS])
    yield application
    application.close()


def loaded(app: RevenueShareApplication, row: dict[str, Any]) -> IssuedStatement:
    statement: IssuedStatement = app.repository.get(uuid.UUID(row["originator_id"]))
    return statement


def test_the_fixture_is_in_the_earlier_stored_form() -> None:
    assert all("class_version" not in row["state"] for row in ROWS)
    assert "source_digests" in BEFORE["state"]["lines"][0]


def test_a_line_with_one_digest_per_source_group_loads_with_one_digest_over_them(app: RevenueShareApplication) -> None:
    [line] = loaded(app, BEFORE).lines
    assert "source_digests" not in line
    assert line["sources_digest"] == sources_digest(BEFORE["state"]["lines"][0]["source_digests"])
    assert {k: v for k, v in line.items() if k != "sources_digest"} == {
        "currency": "CNY", "step": "owner_share", "amount": 600_000, "policy_version": "2024-01",
        "adjustment": False, "reason": "",
    }  # fmt: skip


def test_a_line_issued_with_one_digest_loads_unchanged(app: RevenueShareApplication) -> None:
    assert loaded(app, AFTER).lines == AFTER["state"]["lines"]


def test_the_rest_of_the_statement_and_its_metadata_load_as_stored(app: RevenueShareApplication) -> None:
    statement = loaded(app, BEFORE)
    state = BEFORE["state"]
    assert (statement.period_id, statement.payee_kind, statement.payee_id, statement.payee_account) == (
        state["period_id"], state["payee_kind"], state["payee_id"], state["payee_account"],
    )  # fmt: skip
    assert statement.closed_at.isoformat() == state["closed_at"]["_data_"]
    assert statement.balances == state["balances"]
    [notification] = app.notifications_after(0, 1)
    _, meta = app.metadata_mapper.decode(notification)
    assert meta["principal"] == "finance:fiona"


def test_republished_it_compares_equal_to_what_the_earlier_code_published(app: RevenueShareApplication) -> None:
    """A refilled topic carries the upcast form; the replay check finds it the same statement."""
    [notification] = app.notifications_after(0, 1)
    event, _ = app.metadata_mapper.decode(notification)
    republished = build_catalog().payload(event)
    assert isinstance(republished, pb.StatementIssued)
    [line] = republished.lines
    assert line.sources_digest
    assert not line.source_digests
    as_published_then = pb.StatementIssued()
    as_published_then.CopyFrom(republished)
    del as_published_then.lines[0].source_digests[:]
    as_published_then.lines[0].sources_digest = ""
    as_published_then.lines[0].source_digests.extend(BEFORE["state"]["lines"][0]["source_digests"])
    assert issued_digest(republished.lines) == issued_digest(as_published_then.lines)
