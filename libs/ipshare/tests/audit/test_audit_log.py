"""The audit log over an in-memory event store: chaining, checkpoints kept as events, history, proofs."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest
from eventsourcing.utils import get_topic

from ipshare.audit import SignedCheckpoint, VerificationReport, verify_inclusion, verify_log
from ipshare.audit.checkpoint import CheckpointSigner
from ipshare.audit.merkle import leaf_hash, verify_consistency
from ipshare.audit_log import CHECKPOINT_TOPIC, AuditEntry, AuditLog, Checkpointer, signing_key
from ipshare.envelope import decode_envelope
from ipshare.settings import ServiceSettings
from ipshare_kernel.errors import DomainError, NotFound

from .conftest import CONTEXT, KEY, Note, Notes, catalog, write


def verify(entries: list[AuditEntry], checkpoints: list[SignedCheckpoint]) -> VerificationReport:
    return verify_log([e.canonical for e in entries], checkpoints, KEY.public_key(),
                      entry_hashes=[e.entry_hash for e in entries], log_id="notes")  # fmt: skip


async def test_every_event_is_chained_in_log_order_and_verifies(app: Notes, audit: AuditLog) -> None:
    [first, _] = write(app, "a", "b")
    note = app.repository.get(first)
    note.amend("a2")
    app.record(CONTEXT, note)

    assert await audit.advance() == 3
    assert await audit.advance() == 0
    entries = audit.history()
    assert [e.position for e in entries] == [0, 1, 2]
    assert [e.event.type_name for e in entries] == ["google.protobuf.Struct"] * 2 + [get_topic(Note.Amended)]
    assert entries[2].envelope == b""  # unpublished events are chained all the same
    assert decode_envelope(entries[0].envelope).position == entries[0].notification_id
    report = verify_log(
        [e.canonical for e in entries], [], KEY.public_key(), entry_hashes=[e.entry_hash for e in entries]
    )
    assert report.ok
    assert report.root_hash == audit.tree.root()


async def test_a_checkpoint_is_recorded_as_an_event_and_becomes_an_entry(app: Notes, audit: AuditLog) -> None:
    write(app, "a", "b")
    await audit.advance()
    signed = await audit.checkpoint(datetime(2026, 1, 1, tzinfo=UTC))
    assert signed is not None
    assert signed.tree_head.tree_size == 2
    assert audit.checkpoints() == [signed]
    assert await audit.checkpoint() is None  # nothing new

    await audit.advance()
    assert audit.size == 3
    assert app.recorder.select_notifications(0, 10)[-1].topic == CHECKPOINT_TOPIC
    assert await audit.checkpoint() is None  # only the checkpoint itself came since

    write(app, "c")
    await audit.advance()
    later = await audit.checkpoint()
    assert later is not None
    entries = audit.history()
    report = verify(entries, audit.checkpoints())
    assert report.ok, report.summary()
    assert report.unsigned_entries == 0


async def test_a_restarted_log_continues_the_same_chain(app: Notes, audit: AuditLog) -> None:
    write(app, "a")
    await audit.advance()
    await audit.checkpoint()
    again = AuditLog(app, catalog(), audit.store, CheckpointSigner("notes", KEY))
    await again.load()
    assert (again.size, again.signed_size, again.chain.head) == (1, 1, audit.chain.head)
    write(app, "b")
    await again.advance()
    entries = again.history()
    report = verify(entries, again.checkpoints())
    assert report.ok, report.summary()


async def test_proofs_served_verify_against_the_tree(app: Notes, audit: AuditLog) -> None:
    write(app, *"abcdefg")
    await audit.advance()
    entries = audit.history(2, limit=3)
    assert [e.position for e in entries] == [2, 3, 4]
    for entry in entries:
        proof = audit.inclusion_proof(entry.position, 7)
        verify_inclusion(leaf_hash(entry.canonical), entry.position, 7, proof, audit.tree.root(7))
    verify_consistency(3, 7, audit.tree.root(3), audit.tree.root(7), audit.consistency_proof(3, 7))
    with pytest.raises(DomainError):
        audit.inclusion_proof(7, 7)
    with pytest.raises(DomainError):
        audit.consistency_proof(5, 8)


async def test_an_aggregate_history_lists_its_entries(app: Notes, audit: AuditLog) -> None:
    [first, _] = write(app, "a", "b")
    note = app.repository.get(first)
    note.amend("a2")
    app.record(CONTEXT, note)
    await audit.advance()
    assert [e.position for e in audit.aggregate_history(first)] == [0, 2]
    with pytest.raises(NotFound):
        audit.aggregate_history(uuid.uuid4())


def test_the_development_key_is_stable_per_service_and_the_setting_wins() -> None:
    settings = ServiceSettings()
    assert signing_key(settings, "a").public_key() == signing_key(settings, "a").public_key()
    assert signing_key(settings, "a").public_key() != signing_key(settings, "b").public_key()
    chosen = ServiceSettings(audit_signing_key="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    assert signing_key(chosen, "a").public_key() == KEY.public_key()


async def test_the_worker_chains_each_save_and_signs_on_its_interval(app: Notes, audit: AuditLog) -> None:
    worker = Checkpointer(audit, poll_seconds=0.01, checkpoint_seconds=0.05)
    app.on_recorded(lambda: worker.wake_threadsafe(asyncio.get_running_loop()))
    task = asyncio.create_task(worker.run())
    try:
        write(app, "a", "b")
        for _ in range(200):
            if audit.checkpoints():
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    [checkpoint] = audit.checkpoints()
    assert checkpoint.tree_head.tree_size == 2
    assert audit.size in (2, 3)  # the checkpoint itself is chained at the next wake
