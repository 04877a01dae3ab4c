"""Tamper evidence for the event logs: canonical entry bytes, a hash chain, an RFC 6962/9162 Merkle
tree with inclusion and consistency proofs, Ed25519-signed checkpoints and a verifier that reports.

Pure code (hashlib and the ``cryptography`` package): no I/O, so services, streams, the web API and
the command line can all build on it.
"""

from ipshare.audit.canonical import CanonicalEvent, canonical_bytes_of_stored_event, canonical_event_bytes
from ipshare.audit.chain import (
    GENESIS,
    BreakKind,
    ChainBreak,
    ChainedEntry,
    HashChain,
    chain_hash,
    verify_chain,
    verify_positions,
)
from ipshare.audit.checkpoint import (
    CheckpointSigner,
    SignedCheckpoint,
    TreeHead,
    load_private_key,
    load_public_key,
    verify_checkpoint,
)
from ipshare.audit.errors import (
    AuditError,
    CanonicalFormError,
    InvalidProofError,
    InvalidSignatureError,
    KeyFormatError,
)
from ipshare.audit.merkle import EMPTY_ROOT, MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from ipshare.audit.verifier import Finding, FindingKind, VerificationReport, verify_log

__all__ = [
    "EMPTY_ROOT",
    "GENESIS",
    "AuditError",
    "BreakKind",
    "CanonicalEvent",
    "CanonicalFormError",
    "ChainBreak",
    "ChainedEntry",
    "CheckpointSigner",
    "Finding",
    "FindingKind",
    "HashChain",
    "InvalidProofError",
    "InvalidSignatureError",
    "KeyFormatError",
    "MerkleTree",
    "SignedCheckpoint",
    "TreeHead",
    "VerificationReport",
    "canonical_bytes_of_stored_event",
    "canonical_event_bytes",
    "chain_hash",
    "leaf_hash",
    "load_private_key",
    "load_public_key",
    "verify_chain",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
    "verify_positions",
]
