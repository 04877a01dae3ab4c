"""Signed checkpoints: the signed bytes, keys from settings text, and signatures that report clearly."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ipshare.audit.checkpoint import (
    CheckpointSigner,
    SignedCheckpoint,
    TreeHead,
    generate_private_key,
    key_id_of,
    load_private_key,
    load_public_key,
    private_key_base64,
    private_key_pem,
    public_key_base64,
    public_key_bytes,
    public_key_pem,
    sign_tree_head,
    verify_checkpoint,
)
from ipshare.audit.errors import CanonicalFormError, InvalidSignatureError, KeyFormatError

# RFC 8032 §7.1 test 1: the seed and the public key it gives.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
WHEN = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
ROOT, HEAD = b"\x11" * 32, b"\x22" * 32


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(RFC8032_SEED)


def test_the_signed_bytes_by_hand() -> None:
    head = TreeHead("revenue-share", 5, ROOT, HEAD, datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert head.to_bytes() == (
        b"\x00\x00\x00\x1bipshare.audit.checkpoint.v1"
        + b"\x00\x00\x00\x0drevenue-share"
        + b"\x00\x00\x00\x08" + (5).to_bytes(8, "big")
        + b"\x00\x00\x00\x20" + ROOT
        + b"\x00\x00\x00\x20" + HEAD
        + b"\x00\x00\x00\x08" + (1_000_000).to_bytes(8, "big")
    )  # fmt: skip


def test_tree_heads_read_back_exactly() -> None:
    head = TreeHead("ip-registry", 123, ROOT, HEAD, WHEN.astimezone(timezone(timedelta(hours=8))))
    assert TreeHead.from_bytes(head.to_bytes()) == head
    assert TreeHead.from_bytes(head.to_bytes()).to_bytes() == head.to_bytes()


def test_a_signed_checkpoint_verifies(key: Ed25519PrivateKey) -> None:
    checkpoint = CheckpointSigner("ip-registry", key).sign(3, ROOT, HEAD, WHEN)
    verify_checkpoint(checkpoint, key.public_key())
    assert checkpoint.key_id == key_id_of(key.public_key())
    assert len(checkpoint.signature) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"log_id": "ip-registry-2"},
        {"tree_size": 4},
        {"root_hash": b"\x12" + ROOT[1:]},
        {"chain_head": HEAD[:-1] + b"\x23"},
        {"timestamp": WHEN + timedelta(microseconds=1)},
    ],
)
def test_any_change_to_the_tree_head_breaks_the_signature(key: Ed25519PrivateKey, change: dict[str, object]) -> None:
    checkpoint = sign_tree_head(TreeHead("ip-registry", 3, ROOT, HEAD, WHEN), key)
    forged = dataclasses.replace(checkpoint, tree_head=dataclasses.replace(checkpoint.tree_head, **change))  # type: ignore[arg-type]
    with pytest.raises(InvalidSignatureError, match="does not verify with key") as raised:
        verify_checkpoint(forged, key.public_key())
    assert raised.value.details["log_id"] == forged.tree_head.log_id


def test_a_checkpoint_signed_by_another_key_says_so(key: Ed25519PrivateKey) -> None:
    other = generate_private_key()
    checkpoint = CheckpointSigner("ip-registry", other).sign(3, ROOT, HEAD, WHEN)
    with pytest.raises(InvalidSignatureError, match=f"signed by key {key_id_of(other.public_key())}"):
        verify_checkpoint(checkpoint, key.public_key())


def test_a_truncated_signature_is_refused(key: Ed25519PrivateKey) -> None:
    checkpoint = CheckpointSigner("ip-registry", key).sign(3, ROOT, HEAD, WHEN)
    with pytest.raises(InvalidSignatureError, match="63 bytes"):
        verify_checkpoint(dataclasses.replace(checkpoint, signature=checkpoint.signature[:-1]), key.public_key())


def test_keys_load_from_base64_or_pem(key: Ed25519PrivateKey) -> None:
    seed_text = base64.b64encode(RFC8032_SEED).decode()
    assert private_key_base64(key) == seed_text
    for text in (seed_text, private_key_pem(key), f"\n  {seed_text}\n"):
        assert public_key_bytes(load_private_key(text).public_key()) == RFC8032_PUBLIC
    public = key.public_key()
    assert public_key_base64(public) == base64.b64encode(RFC8032_PUBLIC).decode()
    for text in (public_key_base64(public), public_key_pem(public)):
        assert public_key_bytes(load_public_key(text)) == RFC8032_PUBLIC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64!",
        base64.b64encode(b"\x01" * 31).decode(),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        "ключ",
    ],
)
def test_unreadable_private_keys_are_refused_without_echoing_them(text: str) -> None:
    with pytest.raises(KeyFormatError, match="signing key is neither") as raised:
        load_private_key(text)
    assert text.strip() == "" or text not in str(raised.value)


def test_a_public_key_is_not_a_private_key(key: Ed25519PrivateKey) -> None:
    with pytest.raises(KeyFormatError):
        load_private_key(public_key_pem(key.public_key()))
    with pytest.raises(KeyFormatError, match="public key is neither"):
        load_public_key("AAAA")


def test_the_dict_form_round_trips(key: Ed25519PrivateKey) -> None:
    checkpoint = CheckpointSigner("ip-registry", key).sign(3, ROOT, HEAD, WHEN)
    again = SignedCheckpoint.from_dict(checkpoint.to_dict())
    assert again == checkpoint
    verify_checkpoint(again, key.public_key())
    with pytest.raises(CanonicalFormError, match="not a signed checkpoint"):
        SignedCheckpoint.from_dict({**checkpoint.to_dict(), "root_hash": "zz"})


@pytest.mark.parametrize(
    "change",
    [{"root_hash": b"short"}, {"timestamp": datetime(2025, 1, 1)}, {"tree_size": -1}],
)
def test_tree_heads_refuse_bad_fields(change: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "log_id": "x",
        "tree_size": 1,
        "root_hash": ROOT,
        "chain_head": HEAD,
        "timestamp": WHEN,
        **change,
    }
    with pytest.raises(ValueError, match=r"hash|time zone|negative"):
        TreeHead(**fields)  # type: ignore[arg-type]
