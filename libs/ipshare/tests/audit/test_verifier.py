"""The auditor's verifier: an honest log passes; each kind of tampering is found and named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ipshare.audit.canonical import canonical_event_bytes
from ipshare.audit.chain import chain_hashes
from ipshare.audit.checkpoint import CheckpointSigner, SignedCheckpoint, generate_private_key
from ipshare.audit.errors import InvalidProofError, InvalidSignatureError
from ipshare.audit.merkle import MerkleTree
from ipshare.audit.verifier import (
    FindingKind,
    VerificationReport,
    verify_checkpoint_consistency,
    verify_entry_inclusion,
    verify_log,
)

LOG = "revenue-share"
AGGREGATE = UUID("00000000-0000-0000-0000-0000000000aa")
T0 = datetime(2025, 6, 30, tzinfo=UTC)


def event(position: int, state: bytes | None = None) -> bytes:
    body = state if state is not None else f'{{"amount": {position * 100}}}'.encode()
    return canonical_event_bytes(position, AGGREGATE, position + 1, "PaymentRecorded", body)


def honest_log(n: int = 20) -> list[bytes]:
    return [event(i) for i in range(n)]


def checkpoints_of(
    entries: list[bytes], sizes: list[int], key: Ed25519PrivateKey, log_id: str = LOG
) -> list[SignedCheckpoint]:
    tree, chain = MerkleTree.from_entries(entries), chain_hashes(entries)
    signer = CheckpointSigner(log_id, key)
    return [signer.sign(s, tree.root(s), chain[s - 1], T0 + timedelta(hours=k)) for k, s in enumerate(sizes)]


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return generate_private_key()


@pytest.fixture(scope="module")
def checkpoints(key: Ed25519PrivateKey) -> list[SignedCheckpoint]:
    return checkpoints_of(honest_log(), [5, 10, 20], key)


def kinds(report: VerificationReport) -> list[tuple[FindingKind, int | None, int | None]]:
    return [(f.kind, f.position, f.checkpoint) for f in report.findings]


def test_an_honest_log_verifies(key: Ed25519PrivateKey, checkpoints: list[SignedCheckpoint]) -> None:
    entries = honest_log()
    report = verify_log(entries, checkpoints, key.public_key(), entry_hashes=chain_hashes(entries), log_id=LOG)
    assert report.ok, report.summary()
    assert report.unsigned_entries == 0
    assert report.root_hash == MerkleTree.from_entries(entries).root()
    assert "OK" in report.summary()


def test_entries_after_the_last_checkpoint_are_counted_as_unsigned(
    key: Ed25519PrivateKey, checkpoints: list[SignedCheckpoint]
) -> None:
    report = verify_log(honest_log(25), checkpoints, key.public_key())
    assert report.ok
    assert report.unsigned_entries == 5


def test_one_changed_entry_is_named(key: Ed25519PrivateKey, checkpoints: list[SignedCheckpoint]) -> None:
    entries = honest_log()
    hashes = chain_hashes(entries)
    entries[7] = event(7, b'{"amount": 7000000}')
    report = verify_log(entries, checkpoints, key.public_key(), entry_hashes=hashes)
    assert kinds(report) == [
        (FindingKind.ENTRY_CHANGED, 7, None),
        (FindingKind.ROOT_MISMATCH, None, 1),
        (FindingKind.CHAIN_HEAD_MISMATCH, None, 1),
        (FindingKind.ROOT_MISMATCH, None, 2),
        (FindingKind.CHAIN_HEAD_MISMATCH, None, 2),
    ]
    assert "position 7" in report.findings[0].message
    assert "entry_changed: the entry at position 7" in report.summary()


def test_one_removed_entry_is_named(key: Ed25519PrivateKey, checkpoints: list[SignedCheckpoint]) -> None:
    entries, hashes = honest_log(), chain_hashes(honest_log())
    del entries[12], hashes[12]
    report = verify_log(entries, checkpoints, key.public_key(), entry_hashes=hashes)
    assert kinds(report)[0] == (FindingKind.ENTRY_REMOVED, 12, None)
    assert report.findings[0].message == "1 entry missing before position 13: position(s) 12"
    # the last checkpoint covers 20 entries; 19 are left
    assert (FindingKind.LOG_TRUNCATED, None, 2) in kinds(report)


def test_two_reordered_entries_are_named(key: Ed25519PrivateKey, checkpoints: list[SignedCheckpoint]) -> None:
    entries, hashes = honest_log(), chain_hashes(honest_log())
    entries[3], entries[4] = entries[4], entries[3]
    hashes[3], hashes[4] = hashes[4], hashes[3]
    report = verify_log(entries, checkpoints, key.public_key(), entry_hashes=hashes)
    assert kinds(report) == [
        (FindingKind.ENTRY_REORDERED, 3, None),
        (FindingKind.ROOT_MISMATCH, None, 0),
        (FindingKind.CHAIN_HEAD_MISMATCH, None, 0),
        (FindingKind.ROOT_MISMATCH, None, 1),
        (FindingKind.CHAIN_HEAD_MISMATCH, None, 1),
        (FindingKind.ROOT_MISMATCH, None, 2),
        (FindingKind.CHAIN_HEAD_MISMATCH, None, 2),
    ]
    assert report.findings[0].message == "entries out of order: position 4 comes before position(s) 3"


def test_a_checkpoint_with_a_bad_signature_is_named(
    key: Ed25519PrivateKey, checkpoints: list[SignedCheckpoint]
) -> None:
    forged = [*checkpoints]
    forged[1] = SignedCheckpoint(forged[1].tree_head, bytes(64), forged[1].key_id)
    report = verify_log(honest_log(), forged, key.public_key())
    assert kinds(report) == [(FindingKind.BAD_SIGNATURE, None, 1)]
    assert report.findings[0].message.startswith("checkpoint 1: the checkpoint of log 'revenue-share' at size 10")


def test_checkpoints_signed_by_another_key_are_not_trusted(checkpoints: list[SignedCheckpoint]) -> None:
    report = verify_log(honest_log(), checkpoints, generate_private_key().public_key())
    assert [f.kind for f in report.findings] == [FindingKind.BAD_SIGNATURE] * 3
    assert report.unsigned_entries == 20


def test_without_recorded_hashes_a_change_shows_as_of_the_first_checkpoint_after_it(
    key: Ed25519PrivateKey, checkpoints: list[SignedCheckpoint]
) -> None:
    entries = honest_log()
    entries[7] = event(7, b"{}")
    report = verify_log(entries, checkpoints, key.public_key())
    assert [(k, c) for k, _, c in kinds(report)] == [
        (FindingKind.ROOT_MISMATCH, 1),
        (FindingKind.CHAIN_HEAD_MISMATCH, 1),
        (FindingKind.ROOT_MISMATCH, 2),
        (FindingKind.CHAIN_HEAD_MISMATCH, 2),
    ]
    assert "before position 10" in report.findings[0].message


def test_a_rewritten_log_with_recomputed_hashes_is_caught_by_the_checkpoints(
    key: Ed25519PrivateKey, checkpoints: list[SignedCheckpoint]
) -> None:
    entries = honest_log()
    entries[2] = event(2, b"{}")
    report = verify_log(entries, checkpoints, key.public_key(), entry_hashes=chain_hashes(entries))
    assert {f.kind for f in report.findings} == {FindingKind.ROOT_MISMATCH, FindingKind.CHAIN_HEAD_MISMATCH}
    assert {f.checkpoint for f in report.findings} == {0, 1, 2}


def test_a_signer_that_rewrote_history_between_checkpoints_is_caught(key: Ed25519PrivateKey) -> None:
    honest = honest_log()
    rewritten = [*honest[:3], event(3, b"{}"), *honest[4:]]
    checkpoints = checkpoints_of(honest, [10], key) + checkpoints_of(rewritten, [20], key)
    report = verify_log(rewritten, checkpoints, key.public_key())
    assert kinds(report) == [
        (FindingKind.ROOT_MISMATCH, None, 0),
        (FindingKind.CHAIN_HEAD_MISMATCH, None, 0),
        (FindingKind.CHECKPOINTS_INCONSISTENT, None, 1),
    ]
    assert "does not extend checkpoint 0" in report.findings[2].message


def test_two_different_checkpoints_of_the_same_size_are_a_fork(key: Ed25519PrivateKey) -> None:
    honest = honest_log()
    other = [event(0, b"{}"), *honest[1:]]
    checkpoints = checkpoints_of(honest, [10], key) + checkpoints_of(other, [10], key)
    report = verify_log(honest, checkpoints, key.public_key())
    assert (FindingKind.CHECKPOINTS_INCONSISTENT, None, 1) in kinds(report)


def test_checkpoints_that_shrink_or_go_back_in_time(key: Ed25519PrivateKey) -> None:
    small, large = checkpoints_of(honest_log(), [5, 10], key)
    report = verify_log(honest_log(), [large, small], key.public_key())
    assert kinds(report) == [(FindingKind.CHECKPOINTS_OUT_OF_ORDER, None, 1)]
    older_but_larger = checkpoints_of(honest_log(), [12], key)[0]
    report = verify_log(honest_log(), [large, older_but_larger], key.public_key())
    assert kinds(report) == [(FindingKind.CHECKPOINTS_OUT_OF_ORDER, None, 1)]


def test_a_checkpoint_of_another_log_is_refused(key: Ed25519PrivateKey) -> None:
    checkpoints = checkpoints_of(honest_log(), [5], key, log_id="ip-registry")
    report = verify_log(honest_log(), checkpoints, key.public_key(), log_id=LOG)
    assert kinds(report) == [(FindingKind.WRONG_LOG, None, 0)]


def test_recorded_hashes_must_match_the_entries(key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match="20 entries but 19"):
        verify_log(honest_log(), [], key.public_key(), entry_hashes=chain_hashes(honest_log())[:-1])


def test_a_client_checks_one_entry_against_a_signed_checkpoint(
    key: Ed25519PrivateKey, checkpoints: list[SignedCheckpoint]
) -> None:
    tree = MerkleTree.from_entries(honest_log())
    verify_entry_inclusion(event(6), 6, tree.inclusion_proof(6, 10), checkpoints[1], key.public_key())
    with pytest.raises(InvalidProofError):
        verify_entry_inclusion(event(6, b"{}"), 6, tree.inclusion_proof(6, 10), checkpoints[1], key.public_key())
    with pytest.raises(InvalidSignatureError):
        verify_entry_inclusion(
            event(6), 6, tree.inclusion_proof(6, 10), checkpoints[1], generate_private_key().public_key()
        )


def test_a_client_checks_that_a_checkpoint_extends_an_older_one(
    key: Ed25519PrivateKey, checkpoints: list[SignedCheckpoint]
) -> None:
    tree = MerkleTree.from_entries(honest_log())
    verify_checkpoint_consistency(checkpoints[0], checkpoints[2], tree.consistency_proof(5, 20), key.public_key())
    with pytest.raises(InvalidProofError):
        verify_checkpoint_consistency(checkpoints[0], checkpoints[2], tree.consistency_proof(5, 19), key.public_key())
    other_log = checkpoints_of(honest_log(), [20], key, log_id="ip-registry")[0]
    with pytest.raises(InvalidProofError, match="different logs"):
        verify_checkpoint_consistency(checkpoints[0], other_log, tree.consistency_proof(5, 20), key.public_key())


def test_a_log_of_100_000_entries_with_a_hundred_checkpoints_verifies(key: Ed25519PrivateKey) -> None:
    # Scale, not speed: a timed assertion would fail on a slow machine, so none is made here.
    entries = [canonical_event_bytes(i, AGGREGATE, i + 1, "PaymentRecorded", b"{}") for i in range(100_000)]
    checkpoints = checkpoints_of(entries, list(range(1_000, 100_001, 1_000)), key)
    report = verify_log(entries, checkpoints, key.public_key(), entry_hashes=chain_hashes(entries))
    assert report.ok


def test_without_recorded_hashes_a_reordering_is_still_named(
    key: Ed25519PrivateKey, checkpoints: list[SignedCheckpoint]
) -> None:
    entries = honest_log()
    entries[3], entries[4] = entries[4], entries[3]
    report = verify_log(entries, checkpoints, key.public_key())
    assert kinds(report)[0] == (FindingKind.ENTRY_REORDERED, 3, None)
    assert FindingKind.ENTRY_CHANGED not in {f.kind for f in report.findings}


@settings(max_examples=60, deadline=None)
@given(n=st.integers(3, 40), data=st.data())
def test_any_single_tampering_is_found_at_its_position(key: Ed25519PrivateKey, n: int, data: st.DataObject) -> None:
    entries, hashes = honest_log(n), chain_hashes(honest_log(n))
    checkpoints = checkpoints_of(entries, [n], key)
    at = data.draw(st.integers(0, n - 2))
    how = data.draw(
        st.sampled_from([FindingKind.ENTRY_CHANGED, FindingKind.ENTRY_REMOVED, FindingKind.ENTRY_REORDERED])
    )
    if how == FindingKind.ENTRY_CHANGED:
        entries[at] = event(at, b"tampered")
    elif how == FindingKind.ENTRY_REMOVED:
        del entries[at], hashes[at]
    else:
        entries[at], entries[at + 1] = entries[at + 1], entries[at]
        hashes[at], hashes[at + 1] = hashes[at + 1], hashes[at]
    report = verify_log(entries, checkpoints, key.public_key(), entry_hashes=hashes)
    assert (report.findings[0].kind, report.findings[0].position) == (how, at)
    assert FindingKind.ROOT_MISMATCH in {f.kind for f in report.findings} or how == FindingKind.ENTRY_REMOVED
