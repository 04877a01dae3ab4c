"""Signed checkpoints (signed tree heads): a log's size, root hash and chain head, signed with Ed25519.

Format ``ipshare.audit.checkpoint.v1`` of the signed bytes, fields length-prefixed as in
``canonical.py``, integers big-endian::

    field(b"ipshare.audit.checkpoint.v1") field(log id as UTF-8) field(uint64 tree size)
    field(root hash, 32 bytes) field(chain head, 32 bytes)
    field(int64 microseconds since 1970-01-01T00:00:00Z)

Keys come from settings as text: a PEM private key (PKCS#8, ``-----BEGIN PRIVATE KEY-----``) or the
base64 of the raw 32-byte Ed25519 seed. Public keys are exported the same two ways.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ipshare.audit.canonical import (
    decode_fields,
    decode_text,
    decode_uint64,
    encode_fields,
    encode_text,
    encode_uint64,
)
from ipshare.audit.errors import CanonicalFormError, InvalidSignatureError, KeyFormatError
from ipshare.audit.merkle import HASH_SIZE

CHECKPOINT_FORMAT = b"ipshare.audit.checkpoint.v1"
SIGNATURE_SIZE = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class TreeHead:
    """What a checkpoint vouches for: the first ``tree_size`` entries of log ``log_id``."""

    log_id: str
    tree_size: int
    root_hash: bytes
    chain_head: bytes
    timestamp: datetime

    def __post_init__(self) -> None:
        for name in ("root_hash", "chain_head"):
            if len(getattr(self, name)) != HASH_SIZE:
                raise ValueError(f"the {name.replace('_', ' ')} must be a {HASH_SIZE}-byte SHA-256 hash")
        if self.timestamp.tzinfo is None:
            raise ValueError("the checkpoint timestamp must carry a time zone")
        if self.tree_size < 0:
            raise ValueError("the tree size cannot be negative")

    def to_bytes(self) -> bytes:
        """The exact bytes that are signed."""
        micros = (self.timestamp - _EPOCH) // _MICROSECOND
        return encode_fields(
            [
                CHECKPOINT_FORMAT,
                encode_text(self.log_id, "log id"),
                encode_uint64(self.tree_size, "tree size"),
                self.root_hash,
                self.chain_head,
                micros.to_bytes(8, "big", signed=True),
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> TreeHead:
        tag, log_id, size, root, head, micros = decode_fields(data, 6)
        if tag != CHECKPOINT_FORMAT:
            raise CanonicalFormError("these bytes are not an ipshare.audit.checkpoint.v1 record")
        if len(root) != HASH_SIZE or len(head) != HASH_SIZE or len(micros) != 8:
            raise CanonicalFormError("a checkpoint hash or timestamp field has the wrong length")
        try:
            timestamp = _EPOCH + int.from_bytes(micros, "big", signed=True) * _MICROSECOND
        except OverflowError as error:
            raise CanonicalFormError("the checkpoint timestamp is out of range") from error
        return cls(
            log_id=decode_text(log_id, "log id"),
            tree_size=decode_uint64(size, "tree size"),
            root_hash=root,
            chain_head=head,
            timestamp=timestamp,
        )


@dataclass(frozen=True)
class SignedCheckpoint:
    """A tree head and its Ed25519 signature.

    ``key_id`` names the key that signed (see ``key_id_of``); it is a hint for error messages and
    key rotation, not part of the signed bytes.
    """

    tree_head: TreeHead
    signature: bytes
    key_id: str

    def to_dict(self) -> dict[str, str | int]:
        """A JSON-able form: hashes in hex, signature in base64, timestamp in ISO 8601."""
        head = self.tree_head
        return {
            "log_id": head.log_id,
            "tree_size": head.tree_size,
            "root_hash": head.root_hash.hex(),
            "chain_head": head.chain_head.hex(),
            "timestamp": head.timestamp.isoformat(),
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "key_id": self.key_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | int]) -> SignedCheckpoint:
        try:
            head = TreeHead(
                log_id=str(data["log_id"]),
                tree_size=int(data["tree_size"]),
                root_hash=bytes.fromhex(str(data["root_hash"])),
                chain_head=bytes.fromhex(str(data["chain_head"])),
                timestamp=datetime.fromisoformat(str(data["timestamp"])),
            )
            signature = base64.b64decode(str(data["signature"]), validate=True)
        except (KeyError, ValueError, binascii.Error) as error:
            raise CanonicalFormError(f"not a signed checkpoint: {error}") from error
        return cls(head, signature, str(data.get("key_id", "")))


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint of a public key: the first 8 bytes of SHA-256 of its raw form, in hex."""
    return sha256(public_key_bytes(public_key)).digest()[:8].hex()


def sign_tree_head(tree_head: TreeHead, private_key: Ed25519PrivateKey) -> SignedCheckpoint:
    signature = private_key.sign(tree_head.to_bytes())
    return SignedCheckpoint(tree_head, signature, key_id_of(private_key.public_key()))


def verify_checkpoint(checkpoint: SignedCheckpoint, public_key: Ed25519PublicKey) -> None:
    """Raise InvalidSignatureError, saying which checkpoint and key, unless the signature verifies."""
    head = checkpoint.tree_head
    expected_key = key_id_of(public_key)
    where = f"the checkpoint of log {head.log_id!r} at size {head.tree_size}"
    details = {"log_id": head.log_id, "tree_size": head.tree_size, "key_id": expected_key}
    if len(checkpoint.signature) != SIGNATURE_SIZE:
        raise InvalidSignatureError(
            f"{where} has a signature of {len(checkpoint.signature)} bytes; Ed25519 signatures have 64", **details
        )
    try:
        public_key.verify(checkpoint.signature, head.to_bytes())
    except InvalidSignature:
        if checkpoint.key_id and checkpoint.key_id != expected_key:
            raise InvalidSignatureError(
                f"{where} says it was signed by key {checkpoint.key_id}, and its signature does not verify "
                f"with the trusted key {expected_key}",
                **details,
            ) from None
        raise InvalidSignatureError(
            f"{where} has a signature that does not verify with key {expected_key}: "
            "the checkpoint was altered or signed by another key",
            **details,
        ) from None


class CheckpointSigner:
    """Signs the tree heads of one log with one key."""

    def __init__(self, log_id: str, private_key: Ed25519PrivateKey) -> None:
        self.log_id = log_id
        self._private_key = private_key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._private_key.public_key()

    def sign(
        self, tree_size: int, root_hash: bytes, chain_head: bytes, timestamp: datetime | None = None
    ) -> SignedCheckpoint:
        head = TreeHead(self.log_id, tree_size, root_hash, chain_head, timestamp or datetime.now(UTC))
        return sign_tree_head(head, self._private_key)


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def load_private_key(text: str) -> Ed25519PrivateKey:
    """Read a signing key from settings: PEM (PKCS#8, unencrypted) or base64 of the 32-byte seed."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
        key = None  # never echo key material in the message
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError(
            "the signing key is neither an unencrypted PEM Ed25519 private key nor the base64 of a 32-byte Ed25519 seed"
        )
    return key


def load_public_key(text: str) -> Ed25519PublicKey:
    """Read a verification key: PEM (SubjectPublicKeyInfo) or base64 of the raw 32 bytes."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFormatError("the public key is neither a PEM Ed25519 public key nor the base64 of 32 raw bytes")
    return key


def private_key_base64(private_key: Ed25519PrivateKey) -> str:
    """The base64 of the raw 32-byte seed: the short form settings accept."""
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode("ascii")


def private_key_pem(private_key: Ed25519PrivateKey) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_base64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(public_key_bytes(public_key)).decode("ascii")


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
        "ascii"
    )
