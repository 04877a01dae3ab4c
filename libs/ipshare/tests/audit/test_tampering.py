"""Tampering with a log on the real PostgreSQL and the real broker is detected and named.

A small application records notes; its audit log is chained into ``audit_chain`` and checkpointed;
then one stored event is edited, removed or swapped with another directly in its table, a checkpoint
event's signed content is altered, or an altered copy of an event is published on the topic. The
auditor's check (``ipshare.audit_check``, what ``ipshare verify`` runs) must name each.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare import bus
from ipshare.audit.checkpoint import CheckpointSigner
from ipshare.audit_check import AuditReport, check_all
from ipshare.audit_history import ServiceHistory, TopicMessage
from ipshare.audit_log import CHECKPOINT_TOPIC, AuditLog, SqlChainStore
from ipshare.eventstore import persistence_env
from ipshare.relay import Relay
from ipshare.settings import BusSettings
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_devtools.testing.fixtures import unique_topic
from ipshare_devtools.testing.tables import migrated_engine

from .conftest import CONTEXT, KEY, Note, Notes, catalog, write

pytestmark = pytest.mark.integration
TABLE = "notes_events"  # eventsourcing names the table after the application class


@pytest.fixture
def app(fresh_database: str) -> Iterator[Notes]:
    application = Notes(persistence_env(fresh_database))
    yield application
    application.close()


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine(fresh_database)
    yield engine
    await engine.dispose()


@pytest.fixture
async def audit(app: Notes, engine: AsyncEngine) -> AuditLog:
    """Six notes and an amendment, a checkpoint after the first four and one after everything."""
    log = AuditLog(app, catalog(), SqlChainStore(engine), CheckpointSigner("notes", KEY), topic="t", partitions=3)
    await log.load()
    [first, *_] = write(app, "a", "b", "c", "d")
    await log.advance()
    await log.checkpoint()
    write(app, "e", "f")
    note = app.repository.get(first)
    note.amend("a2")
    app.record(CONTEXT, note)
    await log.advance()
    await log.checkpoint()
    await log.advance()
    assert log.size == 9
    return log


def collected(audit: AuditLog, topic: list[TopicMessage] | None = None) -> ServiceHistory:
    """What `ipshare verify` collects, taken straight from the log."""
    history = ServiceHistory("notes", audit.log_id, audit.topic, audit.partitions, audit.size,
                             audit.public_key_base64())  # fmt: skip
    history.entries = audit.history()
    history.checkpoints = audit.checkpoints()
    history.topic_messages = topic
    return history


def kinds(report: AuditReport) -> list[str]:
    return [p.kind for p in report.problems]


def messages(report: AuditReport) -> str:
    return "\n".join(p.message for p in report.problems)


async def sql(database_url: str, statement: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(statement, *args)
    finally:
        await conn.close()


async def test_an_untouched_log_verifies(audit: AuditLog) -> None:
    report = check_all([collected(audit)], {})
    assert report.ok, messages(report)
    assert "hash chain intact; 2 checkpoints" in report.verified[0]


async def test_one_stored_event_changed_is_named(audit: AuditLog, fresh_database: str) -> None:
    [row] = await sql(fresh_database, f"SELECT notification_id, state FROM {TABLE} WHERE notification_id = 2")
    edited = json.dumps({**json.loads(row["state"]), "text": "forged"}).encode()
    await sql(fresh_database, f"UPDATE {TABLE} SET state = $1 WHERE notification_id = 2", edited)

    report = check_all([collected(audit)], {})
    # named by position, and both checkpoints (each covers position 1) no longer match the log
    assert kinds(report) == ["entry_changed", *["root_mismatch", "chain_head_mismatch"] * 2]
    first = report.problems[0].message
    assert first.startswith("the event at position 1 (aggregate ")
    assert ("version 1, google.protobuf.Struct; recorded by system, service): the entry at position 1 does not match "
            "its recorded hash") in first  # fmt: skip
    assert "checkpoint 0 (size 4, signed " in report.problems[1].message


async def test_one_stored_event_removed_is_named(audit: AuditLog, fresh_database: str) -> None:
    await sql(fresh_database, f"DELETE FROM {TABLE} WHERE notification_id = 3")
    report = check_all([collected(audit)], {})
    assert kinds(report)[0] == "entry_removed"
    assert "1 entry missing before position 3: position(s) 2" in report.problems[0].message
    assert "root_mismatch" in kinds(report)


async def test_two_stored_events_swapped_are_named(audit: AuditLog, fresh_database: str) -> None:
    swap = f"""
        WITH a AS (SELECT * FROM {TABLE} WHERE notification_id = 5),
             b AS (SELECT * FROM {TABLE} WHERE notification_id = 6)
        UPDATE {TABLE} t SET originator_id = o.originator_id, originator_version = o.originator_version,
                             topic = o.topic, state = o.state
        FROM (SELECT 5 AS target, b.* FROM b UNION ALL SELECT 6, a.* FROM a) o
        WHERE t.notification_id = o.target
    """
    # the (originator id, version) key must stay unique while the two rows trade places
    await sql(fresh_database, f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {TABLE}_pkey")
    await sql(fresh_database, swap)

    report = check_all([collected(audit)], {})
    assert kinds(report)[0] == "entry_reordered"
    assert "entries out of order: position 5 comes before position(s) 4" in report.problems[0].message
    assert "entry_changed" not in kinds(report)  # a swap is a reordering, not two edits


async def test_an_event_slipped_in_behind_the_log_is_named(audit: AuditLog, fresh_database: str) -> None:
    # a third version of the last note, given a notification id below every other so no reader follows it
    await sql(fresh_database, f"INSERT INTO {TABLE} (notification_id, originator_id, originator_version, topic, "
              f"state) SELECT 0, originator_id, 3, topic, state FROM {TABLE} WHERE notification_id = 7")  # fmt: skip
    [note] = await sql(fresh_database, f"SELECT originator_id FROM {TABLE} WHERE notification_id = 0")

    report = check_all([collected(audit)], {})
    [problem] = report.problems
    assert problem.kind == "entry_inserted"
    assert problem.message == (
        f"an event the log never chained is stored (aggregate {note['originator_id']} version 3, "
        "google.protobuf.Struct; it says it was recorded by system, service): it was added behind the log's back"
    )
    assert [e.chained for e in audit.aggregate_history(note["originator_id"])] == [True, False]


async def test_a_checkpoint_with_a_bad_signature_is_named(audit: AuditLog, fresh_database: str) -> None:
    [row] = await sql(fresh_database, f"SELECT notification_id, state FROM {TABLE} WHERE topic = $1 "
                      "ORDER BY notification_id LIMIT 1", CHECKPOINT_TOPIC)  # fmt: skip
    state = json.loads(row["state"])
    state["root_hash"] = "00" * 32  # the signer vouched for another root
    await sql(fresh_database, f"UPDATE {TABLE} SET state = $1 WHERE notification_id = $2",
              json.dumps(state).encode(), row["notification_id"])  # fmt: skip

    report = check_all([collected(audit)], {})
    [bad] = [p for p in report.problems if p.kind == "bad_signature"]
    assert bad.message.startswith("checkpoint 0 (size 4, signed ")
    assert "has a signature that does not verify with key" in bad.message
    assert "entry_changed" in kinds(report)  # the checkpoint is an event of the log too: position 4


async def test_a_checkpoint_signed_by_another_key_is_named(audit: AuditLog) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    report = check_all([collected(audit)], {"notes": other})
    assert kinds(report) == ["bad_signature", "bad_signature"]


async def test_an_event_altered_on_the_topic_is_named(
    app: Notes, audit: AuditLog, engine: AsyncEngine, kafka_bootstrap: str
) -> None:
    settings = BusSettings(kafka_bootstrap_servers=kafka_bootstrap, topic_partitions=3)
    topic = unique_topic("notes")
    await bus.ensure_topics(settings, [topic])
    producer = bus.producer(settings)
    await producer.start()
    try:
        relay = Relay(app, audit.catalog, producer, engine, topic)
        await relay.load_position()
        while await relay.publish_once():
            pass
        on_topic = await read(settings, topic)
        original = next(m for m in on_topic if _envelope(m).payload.TypeName() == "google.protobuf.Struct")
        altered = _envelope(original)
        altered.principal = "admin:someone-else"
        await producer.send_and_wait(topic, altered.SerializeToString(), key=altered.aggregate_id.encode())
    finally:
        await producer.stop()
    messages_on_topic = await read(settings, topic)
    audit.topic = topic

    report = check_all([collected(audit, messages_on_topic)], {})
    [problem] = report.problems
    assert problem.kind == "topic_message_altered"
    forged = next(m for m in messages_on_topic if _envelope(m).principal == "admin:someone-else")
    assert problem.message.startswith(f"topic {topic} partition {forged.partition} offset {forged.offset}: ")
    assert f"the message differs from the event at position {altered.position - 1} (aggregate " in problem.message
    assert problem.message.endswith("(field principal)")


async def read(settings: BusSettings, topic: str) -> list[TopicMessage]:
    return [TopicMessage(r.partition, r.offset, r.value or b"")
            async for batch in bus.read_from_beginning(settings, [topic], idle_seconds=3) for r in batch]  # fmt: skip


def _envelope(message: TopicMessage) -> EventEnvelope:
    envelope = EventEnvelope()
    envelope.ParseFromString(message.value)
    return envelope


def test_notes_keep_their_payload_type() -> None:
    assert catalog().type_name(Note.Written) == "google.protobuf.Struct"
