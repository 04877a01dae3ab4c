"""The auditor's check of collected histories: served proofs, exports, and forged proofs never passing."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from functools import cache
from itertools import pairwise
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ipshare.audit.checkpoint import CheckpointSigner
from ipshare.audit_check import check_all, default_partition, published_events
from ipshare.audit_history import ServedInclusion, ServedProof, ServiceHistory
from ipshare.audit_log import AuditLog, MemoryChainStore
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext, persistence_env

from .conftest import KEY, Note, Notes, catalog, write


@cache
def history() -> ServiceHistory:
    """A log of 21 events with four checkpoints, and the consistency proofs its service serves."""
    app = Notes(persistence_env(None))
    audit = AuditLog(app, catalog(), MemoryChainStore(), CheckpointSigner("notes", KEY), topic="t", partitions=3)

    async def fill() -> None:
        for count in (3, 5, 1, 8):
            write(app, *(str(n) for n in range(count)))
            await audit.advance()
            await audit.checkpoint()
            await audit.advance()

    asyncio.run(fill())
    collected = ServiceHistory("notes", "notes", "t", 3, audit.size, audit.public_key_base64())
    collected.entries, collected.checkpoints = audit.history(), audit.checkpoints()
    sizes = [c.tree_head.tree_size for c in collected.checkpoints]
    collected.proofs = [ServedProof(a, b, tuple(audit.consistency_proof(a, b))) for a, b in pairwise(sizes)]
    collected.inclusions = [ServedInclusion(s - 1, s, tuple(audit.inclusion_proof(s - 1, s))) for s in sizes]
    return collected


def test_a_collected_log_with_its_served_proofs_verifies() -> None:
    report = check_all([history()], {})
    assert report.ok, report.problems
    assert any("3 consistency proofs served between checkpoints and 4 inclusion proofs" in line
               for line in report.verified)  # fmt: skip


def test_an_export_reads_back_and_verifies_the_same(tmp_path: Path) -> None:
    folder = history().export(tmp_path)
    loaded = ServiceHistory.load(folder)
    assert loaded.entries == history().entries
    assert loaded.checkpoints == history().checkpoints
    assert loaded.proofs == history().proofs
    assert loaded.inclusions == history().inclusions
    assert check_all([loaded], {}).ok


def test_published_events_fall_on_the_partition_of_their_key() -> None:
    events = published_events(history())
    assert events
    for event in events:
        assert event.partition == default_partition(event.envelope.aggregate_id, 3)
    assert {default_partition("a", 3), default_partition("b", 3), default_partition("c", 3)} <= {0, 1, 2}


corruption = st.sampled_from(["flip", "drop", "append", "swap", "replace"])


@settings(max_examples=200, deadline=None)
@given(which=st.integers(0, 3), how=corruption, data=st.data())
def test_a_corrupted_served_inclusion_proof_never_verifies(which: int, how: str, data: st.DataObject) -> None:
    original = history()
    proof = original.inclusions[which]
    hashes = list(proof.hashes)
    forged = _corrupt(hashes, how, data)
    if forged == hashes:
        return
    inclusions = list(original.inclusions)
    inclusions[which] = ServedInclusion(proof.position, proof.tree_size, tuple(forged))
    report = check_all([dataclasses.replace(original, inclusions=inclusions)], {})
    assert [p.kind for p in report.problems] == ["proof_invalid"]
    assert f"served for position {proof.position} in the tree of {proof.tree_size} fails" in report.problems[0].message


@settings(max_examples=200, deadline=None)
@given(which=st.integers(0, 2), how=corruption, data=st.data())
def test_a_corrupted_served_proof_never_verifies(which: int, how: str, data: st.DataObject) -> None:
    original = history()
    proof = original.proofs[which]
    hashes = list(proof.hashes)
    forged = _corrupt(hashes, how, data)
    if forged == hashes:
        return  # swapping two equal hashes changes nothing
    proofs = list(original.proofs)
    proofs[which] = ServedProof(proof.old_size, proof.new_size, tuple(forged))
    report = check_all([dataclasses.replace(original, proofs=proofs)], {})
    assert [p.kind for p in report.problems] == ["proof_invalid"]
    assert f"from size {proof.old_size} to {proof.new_size} fails" in report.problems[0].message


def _corrupt(hashes: list[bytes], how: str, data: st.DataObject) -> list[bytes]:
    forged = list(hashes)
    if how == "append" or not forged:
        forged.insert(data.draw(st.integers(0, len(forged))), data.draw(st.binary(min_size=32, max_size=32)))
    elif how == "flip":
        i = data.draw(st.integers(0, len(forged) - 1))
        bit = data.draw(st.integers(0, 255))
        value = bytearray(forged[i])
        value[bit // 8] ^= 1 << (bit % 8)
        forged[i] = bytes(value)
    elif how == "drop":
        del forged[data.draw(st.integers(0, len(forged) - 1))]
    elif how == "swap" and len(forged) > 1:
        i, j = data.draw(st.lists(st.integers(0, len(forged) - 1), min_size=2, max_size=2, unique=True))
        forged[i], forged[j] = forged[j], forged[i]
    else:
        i = data.draw(st.integers(0, len(forged) - 1))
        forged[i] = data.draw(st.binary(min_size=32, max_size=32).filter(lambda h: h != hashes[i]))
    return forged


def test_an_envelope_that_names_another_event_is_named() -> None:
    original = history()
    entries = list(original.entries)
    [index, other] = [i for i, e in enumerate(entries) if e.envelope][:2]
    entries[index] = dataclasses.replace(entries[index], envelope=entries[other].envelope)
    report = check_all([dataclasses.replace(original, entries=entries)], {})
    [problem] = report.problems
    assert problem.kind == "envelope_mismatch"
    assert problem.message.startswith(f"the event at position {entries[index].position} (aggregate ")
    assert "the envelope served with it names another event" in problem.message


def test_an_event_a_problem_names_says_who_recorded_it() -> None:
    app = Notes(persistence_env(None))
    audit = AuditLog(app, catalog(), MemoryChainStore(), CheckpointSigner("notes", KEY), topic="t", partitions=3)
    officer = Principal(Role.MEMBER, "oidc|sun-yu", uuid.UUID(int=7), "Sun Yu")
    app.record(CommandContext(principal=officer), Note("first"), Note("second"))
    asyncio.run(audit.advance())
    collected = ServiceHistory("notes", "notes", "t", 3, audit.size, audit.public_key_base64())
    collected.entries = audit.history()
    first, second = collected.entries[:2]
    collected.entries[0] = dataclasses.replace(first, envelope=second.envelope)
    [problem] = check_all([collected], {}).problems
    assert problem.kind == "envelope_mismatch"
    assert f"recorded by Sun Yu (oidc|sun-yu), member for member {uuid.UUID(int=7)})" in problem.message
