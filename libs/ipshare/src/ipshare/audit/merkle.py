"""Merkle tree hashes and proofs of RFC 6962 / RFC 9162 (SHA-256).

- leaf hash ``H(0x00 || entry)``, node hash ``H(0x01 || left || right)``; the hash of an empty tree is
  ``H("")``; a tree of n > 1 leaves splits at k, the largest power of two smaller than n.
- inclusion proofs (audit paths) and consistency proofs in the order RFC 9162 §2.1.3.1 / §2.1.4.1
  generate them, verified with the algorithms of §2.1.3.2 / §2.1.4.2.

Costs (n = leaves in the tree): ``MerkleTree`` keeps the hash of every complete, aligned subtree
(about 2n hashes, packed 32 bytes each), so ``append`` costs O(1) hashes amortized, and ``root``,
``inclusion_proof`` and ``consistency_proof`` for any earlier size cost O(log n) look-ups plus
O(log n) hashes per ragged right edge: O(log² n) hashes in the worst case (under 300 for 100,000
leaves), never a rehash of the log. Verification costs O(log n) hashes.

A proof binds an entry to a root hash; the tree size is bound to that root by the signed checkpoint,
so always verify against a root taken from a verified checkpoint of that size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

from ipshare.audit.errors import InvalidProofError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """Hash of one log entry as a leaf: ``SHA-256(0x00 || entry)``."""
    return sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _is_power_of_two(size: int) -> bool:
    return size > 0 and size & (size - 1) == 0


class MerkleTree:
    """An append-only Merkle tree that answers root and proof queries for every size it has had.

    Level ``k`` stores the hashes of the complete subtrees of ``2**k`` leaves that start at multiples
    of ``2**k``; RFC 6962's split only ever asks for such subtrees plus one ragged right edge.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        for leaf in leaf_hashes:
            self.append_leaf_hash(leaf)

    @classmethod
    def from_entries(cls, entries: Iterable[bytes]) -> MerkleTree:
        """A tree whose leaves are the given entries (e.g. canonical event bytes), in order."""
        return cls(leaf_hash(entry) for entry in entries)

    def __len__(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def append(self, entry: bytes) -> int:
        """Add one entry as the next leaf; returns its leaf index."""
        return self.append_leaf_hash(leaf_hash(entry))

    def append_leaf_hash(self, leaf: bytes) -> int:
        """Add an already hashed leaf; returns its leaf index."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf)}")
        index = len(self)
        self._levels[0] += leaf
        node, level, position = leaf, 0, index
        while position & 1:  # a right child completes its parent subtree
            node = node_hash(self._stored(level, position - 1), node)
            level, position = level + 1, position >> 1
            if level == len(self._levels):
                self._levels.append(bytearray())
            self._levels[level] += node
        return index

    def leaf_hash_at(self, index: int) -> bytes:
        self._check_index(index, len(self))
        return self._stored(0, index)

    def root(self, size: int | None = None) -> bytes:
        """The Merkle tree hash (MTH) of the first ``size`` leaves (default: all of them)."""
        size = self._checked_size(size)
        return self._range_hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of the first ``size`` leaves (RFC 9162 PATH)."""
        size = self._checked_size(size)
        self._check_index(index, size)
        path: list[bytes] = []  # collected from the top down, returned from the leaf up
        start, end = 0, size
        while end - start > 1:
            k = split_point(end - start)
            if index < start + k:
                path.append(self._range_hash(start + k, end))
                end = start + k
            else:
                path.append(self._range_hash(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Proof that the tree of ``old_size`` leaves is a prefix of the one of ``new_size`` (RFC 9162 PROOF).

        Empty when ``old_size`` is 0 or equal to ``new_size``: there is nothing to prove.
        """
        new_size = self._checked_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"old size {old_size} must be between 0 and the new size {new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []  # collected from the top down, returned in RFC order
        m, start, end, whole_old_tree = old_size, 0, new_size, True
        while m != end - start:
            k = split_point(end - start)
            if m <= k:
                proof.append(self._range_hash(start + k, end))
                end = start + k
            else:
                proof.append(self._range_hash(start, start + k))
                start, m, whole_old_tree = start + k, m - k, False
        if not whole_old_tree:  # the verifier knows the old root, not this inner subtree
            proof.append(self._range_hash(start, end))
        proof.reverse()
        return proof

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves[start:end]; callers pass only ranges produced by RFC 6962's split."""
        size = end - start
        if _is_power_of_two(size):  # complete and aligned: stored
            level = size.bit_length() - 1
            return self._stored(level, start >> level)
        k = split_point(size)
        return node_hash(self._range_hash(start, start + k), self._range_hash(start + k, end))

    def _stored(self, level: int, position: int) -> bytes:
        offset = position * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def _checked_size(self, size: int | None) -> int:
        if size is None:
            return len(self)
        if not 0 <= size <= len(self):
            raise ValueError(f"tree size {size} is outside 0..{len(self)}")
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    RFC 9162 §2.1.3.2. Raises InvalidProofError saying why, returns None when the proof holds.
    """
    _check_proof_hashes(proof, leaf=leaf, root=root)
    if not 0 <= index < size:
        raise InvalidProofError(f"leaf index {index} is outside a tree of {size} entries", index=index, size=size)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise InvalidProofError("the inclusion proof has more hashes than the tree has levels")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProofError("the inclusion proof has fewer hashes than the tree has levels")
    if r != root:
        raise InvalidProofError(
            f"the inclusion proof of entry {index} does not lead to the root hash of the tree of {size} entries",
            index=index,
            size=size,
        )


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``old_size`` leaves (``old_root``) is a prefix of the one of ``new_size``.

    RFC 9162 §2.1.4.2, plus the trivial cases: an empty old tree is a prefix of everything (empty
    proof), and equal sizes need equal roots (empty proof). Raises InvalidProofError saying why.
    """
    _check_proof_hashes(proof, old_root=old_root, new_root=new_root)
    if not 0 <= old_size <= new_size:
        raise InvalidProofError(
            f"a tree of {new_size} entries cannot extend one of {old_size}", old_size=old_size, new_size=new_size
        )
    if old_size in (0, new_size):
        if proof:
            raise InvalidProofError("a consistency proof between these sizes must be empty")
        if old_size == new_size and old_root != new_root:
            raise InvalidProofError(f"two different root hashes for the same tree size {old_size}", size=old_size)
        return
    if not proof:
        raise InvalidProofError("the consistency proof is empty")
    path = [old_root, *proof] if _is_power_of_two(old_size) else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProofError("the consistency proof has more hashes than the trees need")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProofError("the consistency proof has fewer hashes than the trees need")
    if fr != old_root:
        raise InvalidProofError(f"the consistency proof does not lead to the root hash of the first {old_size} entries")
    if sr != new_root:
        raise InvalidProofError(
            f"the tree of {new_size} entries does not extend the tree of {old_size} entries", new_size=new_size
        )


def _check_proof_hashes(proof: Sequence[bytes], **named: bytes) -> None:
    for name, value in named.items():
        _check_hash(name.replace("_", " "), value)
    for position, value in enumerate(proof):
        _check_hash(f"proof hash {position}", value)


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise InvalidProofError(f"the {name} is not a {HASH_SIZE}-byte SHA-256 hash")
