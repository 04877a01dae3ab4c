"""The auditor's check of a whole log: chain, signatures, roots, and checkpoints that extend each other.

``verify_log`` never stops at the first problem: it returns a report listing every finding with its
kind, the position or checkpoint it concerns and a message in plain words. The two small helpers
below serve a client that holds only checkpoints and proofs (not the whole log).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ipshare.audit.chain import GENESIS, BreakKind, ChainedEntry, chain_hashes, verify_chain, verify_positions
from ipshare.audit.checkpoint import SignedCheckpoint, verify_checkpoint
from ipshare.audit.errors import InvalidProofError, InvalidSignatureError
from ipshare.audit.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion


class FindingKind(StrEnum):
    ENTRY_CHANGED = "entry_changed"
    ENTRY_REMOVED = "entry_removed"
    ENTRY_REORDERED = "entry_reordered"
    ENTRY_DUPLICATED = "entry_duplicated"
    ENTRY_MALFORMED = "entry_malformed"
    BAD_SIGNATURE = "bad_signature"
    WRONG_LOG = "wrong_log"
    LOG_TRUNCATED = "log_truncated"
    ROOT_MISMATCH = "root_mismatch"
    CHAIN_HEAD_MISMATCH = "chain_head_mismatch"
    CHECKPOINTS_INCONSISTENT = "checkpoints_inconsistent"
    CHECKPOINTS_OUT_OF_ORDER = "checkpoints_out_of_order"


_KIND_OF_BREAK = {
    BreakKind.CHANGED: FindingKind.ENTRY_CHANGED,
    BreakKind.REMOVED: FindingKind.ENTRY_REMOVED,
    BreakKind.REORDERED: FindingKind.ENTRY_REORDERED,
    BreakKind.DUPLICATED: FindingKind.ENTRY_DUPLICATED,
    BreakKind.MALFORMED: FindingKind.ENTRY_MALFORMED,
}


@dataclass(frozen=True)
class Finding:
    """One problem. ``position`` is a log position (or, for a malformed entry, None);
    ``checkpoint`` the index of the checkpoint concerned in the list given to the verifier."""

    kind: FindingKind
    message: str
    position: int | None = None
    checkpoint: int | None = None

    def to_dict(self) -> dict[str, str | int | None]:
        return {
            "kind": self.kind.value,
            "message": self.message,
            "position": self.position,
            "checkpoint": self.checkpoint,
        }


@dataclass(frozen=True)
class VerificationReport:
    """The outcome of ``verify_log``. ``unsigned_entries`` counts the entries after the largest
    checkpoint that verified: nothing signed vouches for them yet (normal for a live log)."""

    log_id: str | None
    entries: int
    checkpoints: int
    root_hash: bytes
    chain_head: bytes
    unsigned_entries: int
    findings: tuple[Finding, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.findings

    def of_kind(self, kind: FindingKind) -> list[Finding]:
        return [finding for finding in self.findings if finding.kind == kind]

    def summary(self) -> str:
        """A few lines an auditor can read."""
        head = (
            f"log {self.log_id or '(any)'}: {self.entries} entries, {self.checkpoints} checkpoints, "
            f"root {self.root_hash.hex()}, {self.unsigned_entries} entries not yet covered by a checkpoint"
        )
        if self.ok:
            return f"{head}\nOK: the log matches its chain and every checkpoint"
        return "\n".join([head, *(f"{f.kind.value}: {f.message}" for f in self.findings)])


def verify_log(
    entries: Sequence[bytes],
    checkpoints: Sequence[SignedCheckpoint],
    public_key: Ed25519PublicKey,
    *,
    entry_hashes: Sequence[bytes] | None = None,
    log_id: str | None = None,
) -> VerificationReport:
    """Check a log given as canonical bytes in log order against its signed checkpoints, in the
    order they were issued.

    With ``entry_hashes`` (the hashes the writer recorded with each entry), a changed entry is named
    by position; without them, the positions inside the entries still show removals and reorderings,
    and the checkpoints show any other change (as of which checkpoint). ``log_id`` rejects
    checkpoints of another log.
    """
    if entry_hashes is not None and len(entry_hashes) != len(entries):
        raise ValueError(f"{len(entries)} entries but {len(entry_hashes)} recorded entry hashes")
    breaks = (
        verify_chain([ChainedEntry(c, h) for c, h in zip(entries, entry_hashes, strict=True)])
        if entry_hashes is not None
        else verify_positions(entries)
    )
    findings = [Finding(_KIND_OF_BREAK[b.kind], b.message, position=b.position) for b in breaks]
    check = _CheckpointCheck(entries, public_key, log_id)
    findings += check.run(checkpoints)
    return VerificationReport(
        log_id=log_id,
        entries=len(entries),
        checkpoints=len(checkpoints),
        root_hash=check.tree.root(),
        chain_head=check.chain[-1] if check.chain else GENESIS,
        unsigned_entries=max(0, len(entries) - check.largest_verified_size),
        findings=tuple(findings),
    )


class _CheckpointCheck:
    def __init__(self, entries: Sequence[bytes], public_key: Ed25519PublicKey, log_id: str | None) -> None:
        self.tree = MerkleTree.from_entries(entries)
        self.chain = chain_hashes(entries)
        self.public_key = public_key
        self.log_id = log_id
        self.largest_verified_size = 0
        self.findings: list[Finding] = []

    def run(self, checkpoints: Sequence[SignedCheckpoint]) -> list[Finding]:
        trusted = [(k, cp) for k, cp in enumerate(checkpoints) if self._check_one(k, cp)]
        for (a, older), (b, newer) in pairwise(trusted):
            self._check_pair(a, older, b, newer)
        return self.findings

    def _check_one(self, k: int, checkpoint: SignedCheckpoint) -> bool:
        """Signature, log and content of one checkpoint; True if its signature can be trusted."""
        head = checkpoint.tree_head
        try:
            verify_checkpoint(checkpoint, self.public_key)
        except InvalidSignatureError as error:
            self._add(FindingKind.BAD_SIGNATURE, k, f"checkpoint {k}: {error.message}")
            return False
        if self.log_id is not None and head.log_id != self.log_id:
            self._add(FindingKind.WRONG_LOG, k, f"checkpoint {k} belongs to log {head.log_id!r}, not {self.log_id!r}")
            return False
        size, available = head.tree_size, len(self.tree)
        if size > available:
            self._add(
                FindingKind.LOG_TRUNCATED,
                k,
                f"checkpoint {k} vouches for {size} entries but the log has only {available}: "
                f"entries from position {available} on are missing",
            )
            return True
        self.largest_verified_size = max(self.largest_verified_size, size)
        if self.tree.root(size) != head.root_hash:
            self._add(
                FindingKind.ROOT_MISMATCH,
                k,
                f"the first {size} entries do not hash to the root signed in checkpoint {k} "
                f"({head.timestamp.isoformat()}): an entry before position {size} was changed, removed, added or moved",
            )
        if (self.chain[size - 1] if size else GENESIS) != head.chain_head:
            self._add(
                FindingKind.CHAIN_HEAD_MISMATCH,
                k,
                f"the hash chain over the first {size} entries does not end in the chain head signed in checkpoint {k}",
            )
        return True

    def _check_pair(self, a: int, older: SignedCheckpoint, b: int, newer: SignedCheckpoint) -> None:
        old, new = older.tree_head, newer.tree_head
        if new.tree_size < old.tree_size:
            self._add(
                FindingKind.CHECKPOINTS_OUT_OF_ORDER,
                b,
                f"checkpoint {b} covers {new.tree_size} entries, fewer than checkpoint {a} before it ({old.tree_size})",
            )
            return
        if new.timestamp < old.timestamp:
            self._add(FindingKind.CHECKPOINTS_OUT_OF_ORDER, b, f"checkpoint {b} is dated before checkpoint {a}")
        if new.tree_size == old.tree_size:
            if new.root_hash != old.root_hash or new.chain_head != old.chain_head:
                self._add(
                    FindingKind.CHECKPOINTS_INCONSISTENT,
                    b,
                    f"checkpoints {a} and {b} sign different logs of the same size {new.tree_size}",
                )
            return
        # Only the newer checkpoint matching the log makes a failed proof a finding of its own:
        # the signer then vouched for a history that rewrites what checkpoint a had vouched for.
        if new.tree_size > len(self.tree) or self.tree.root(new.tree_size) != new.root_hash:
            return
        proof = self.tree.consistency_proof(old.tree_size, new.tree_size)
        try:
            verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof)
        except InvalidProofError:
            self._add(
                FindingKind.CHECKPOINTS_INCONSISTENT,
                b,
                f"checkpoint {b} does not extend checkpoint {a}: the first {old.tree_size} entries "
                "were rewritten between them",
            )

    def _add(self, kind: FindingKind, checkpoint: int, message: str) -> None:
        self.findings.append(Finding(kind, message, checkpoint=checkpoint))


def verify_entry_inclusion(
    entry: bytes, index: int, proof: Sequence[bytes], checkpoint: SignedCheckpoint, public_key: Ed25519PublicKey
) -> None:
    """Check that ``entry`` (canonical bytes) is entry ``index`` of the log a signed checkpoint vouches for.

    Raises InvalidSignatureError or InvalidProofError with the reason.
    """
    verify_checkpoint(checkpoint, public_key)
    head = checkpoint.tree_head
    verify_inclusion(leaf_hash(entry), index, head.tree_size, proof, head.root_hash)


def verify_checkpoint_consistency(
    older: SignedCheckpoint, newer: SignedCheckpoint, proof: Sequence[bytes], public_key: Ed25519PublicKey
) -> None:
    """Check that a newer signed checkpoint extends an older one of the same log, given a consistency proof.

    Raises InvalidSignatureError or InvalidProofError with the reason.
    """
    verify_checkpoint(older, public_key)
    verify_checkpoint(newer, public_key)
    old, new = older.tree_head, newer.tree_head
    if old.log_id != new.log_id:
        raise InvalidProofError(f"the checkpoints belong to different logs ({old.log_id!r}, {new.log_id!r})")
    verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof)
