"""RFC 6962 / 9162 Merkle tree: published vectors, an oracle written straight from the RFC, forged proofs."""

from __future__ import annotations

from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipshare.audit.errors import InvalidProofError
from ipshare.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    split_point,
    verify_consistency,
    verify_inclusion,
)

# Certificate Transparency's reference leaves and the root of every tree size 0..8.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
H_96A2 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
H_5F08 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
H_6B47 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
H_BC1A = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
H_CA85 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
H_0EBC = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
H_D37E = CT_ROOTS[4]

MAX_SIZE = 64


# --- an oracle: the RFC 9162 definitions, recursive and literal -------------------------------


def oracle_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node_hash(oracle_root(leaves[:k]), oracle_root(leaves[k:]))


def oracle_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = split_point(len(leaves))
    if m < k:
        return [*oracle_path(m, leaves[:k]), oracle_root(leaves[k:])]
    return [*oracle_path(m - k, leaves[k:]), oracle_root(leaves[:k])]


def oracle_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if whole else [oracle_root(leaves)]
    k = split_point(len(leaves))
    if m <= k:
        return [*oracle_subproof(m, leaves[:k], whole), oracle_root(leaves[k:])]
    return [*oracle_subproof(m - k, leaves[k:], False), oracle_root(leaves[:k])]


def entries(n: int) -> list[bytes]:
    """Distinct entries, so a leaf hash occurs at one index only."""
    return [f"entry-{i}".encode() for i in range(n)]


@pytest.fixture(scope="module")
def tree() -> MerkleTree:
    return MerkleTree.from_entries(entries(MAX_SIZE))


# --- known answers ----------------------------------------------------------------------------


def test_the_empty_tree_hashes_to_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MerkleTree().root() == EMPTY_ROOT


def test_leaf_and_node_hashes_carry_their_prefix() -> None:
    assert leaf_hash(b"") == sha256(b"\x00").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()


def test_small_trees_by_hand() -> None:
    a, b, c = leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")
    tree = MerkleTree.from_entries([b"a", b"b", b"c"])
    assert tree.root(1) == a
    assert tree.root(2) == node_hash(a, b)
    # 3 leaves split at 2, not in the middle: ((a b) c)
    assert tree.root(3) == node_hash(node_hash(a, b), c)


@pytest.mark.parametrize(("size", "expected"), [(n, CT_ROOTS[n]) for n in range(9)])
def test_roots_match_the_certificate_transparency_vectors(size: int, expected: str) -> None:
    assert MerkleTree.from_entries(CT_LEAVES).root(size).hex() == expected


@pytest.mark.parametrize(
    ("index", "size", "expected"),
    [
        (0, 8, [H_96A2, H_5F08, H_6B47]),
        (5, 8, [H_BC1A, H_CA85, H_D37E]),
        (0, 1, []),
    ],
)
def test_inclusion_proofs_match_the_vectors(index: int, size: int, expected: list[str]) -> None:
    tree = MerkleTree.from_entries(CT_LEAVES)
    proof = tree.inclusion_proof(index, size)
    assert [p.hex() for p in proof] == expected
    verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, tree.root(size))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (1, 8, [H_96A2, H_5F08, H_6B47]),
        (2, 5, [H_5F08, H_BC1A]),
        (2, 8, [H_5F08, H_6B47]),
        (6, 8, [H_0EBC, H_CA85, H_D37E]),
        (8, 8, []),
    ],
)
def test_consistency_proofs_match_the_vectors(old: int, new: int, expected: list[str]) -> None:
    tree = MerkleTree.from_entries(CT_LEAVES)
    proof = tree.consistency_proof(old, new)
    assert [p.hex() for p in proof] == expected
    verify_consistency(old, new, tree.root(old), tree.root(new), proof)


# --- every size up to 64 against the oracle -----------------------------------------------------


def test_roots_of_every_size_match_the_oracle(tree: MerkleTree) -> None:
    leaves = [leaf_hash(e) for e in entries(MAX_SIZE)]
    for n in range(MAX_SIZE + 1):
        assert tree.root(n) == oracle_root(leaves[:n]), n


def test_every_inclusion_proof_up_to_64_matches_the_oracle_and_verifies(tree: MerkleTree) -> None:
    leaves = [leaf_hash(e) for e in entries(MAX_SIZE)]
    for n in range(1, MAX_SIZE + 1):
        root = tree.root(n)
        for m in range(n):
            proof = tree.inclusion_proof(m, n)
            assert proof == oracle_path(m, leaves[:n]), (m, n)
            verify_inclusion(leaves[m], m, n, proof, root)


def test_every_consistency_proof_up_to_64_matches_the_oracle_and_verifies(tree: MerkleTree) -> None:
    leaves = [leaf_hash(e) for e in entries(MAX_SIZE)]
    for n in range(1, MAX_SIZE + 1):
        for m in range(0, n + 1):
            proof = tree.consistency_proof(m, n)
            expected = [] if m in (0, n) else oracle_subproof(m, leaves[:n], True)
            assert proof == expected, (m, n)
            verify_consistency(m, n, tree.root(m), tree.root(n), proof)


def test_a_tree_grown_one_leaf_at_a_time_answers_for_its_past_sizes() -> None:
    tree = MerkleTree()
    roots = []
    for entry in entries(20):
        tree.append(entry)
        roots.append(tree.root())
    assert [tree.root(n + 1) for n in range(20)] == roots


def test_queries_outside_the_tree_are_refused(tree: MerkleTree) -> None:
    with pytest.raises(ValueError, match="size"):
        tree.root(MAX_SIZE + 1)
    with pytest.raises(ValueError, match="index"):
        tree.inclusion_proof(5, 5)
    with pytest.raises(ValueError, match="old size"):
        tree.consistency_proof(9, 8)
    with pytest.raises(ValueError, match="32"):
        tree.append_leaf_hash(b"short")


# --- forged proofs ------------------------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=MAX_SIZE)


def _flip(proof: list[bytes], which: int, byte: int) -> list[bytes]:
    forged = list(proof)
    h = bytearray(forged[which])
    h[byte] ^= 0x01
    forged[which] = bytes(h)
    return forged


def _corrupted_paths(proof: list[bytes], data: st.DataObject) -> list[list[bytes]]:
    """Byte flips, dropped, appended, duplicated and swapped hashes: each a different list."""
    forged: list[list[bytes]] = []
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1))
        forged.append(_flip(proof, which, data.draw(st.integers(0, 31))))
        forged.append(proof[:which] + proof[which + 1 :])
        forged.append([*proof[:which], proof[which], *proof[which:]])
    forged.append([*proof, data.draw(st.binary(min_size=32, max_size=32))])
    forged.append([data.draw(st.binary(min_size=32, max_size=32)), *proof])
    if len(proof) >= 2:
        i, j = data.draw(st.lists(st.integers(0, len(proof) - 1), min_size=2, max_size=2, unique=True))
        swapped = list(proof)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        if swapped != proof:
            forged.append(swapped)
    return [f for f in forged if f != proof]


@settings(max_examples=300, deadline=None)
@given(n=sizes, data=st.data())
def test_a_forged_inclusion_proof_never_verifies(tree: MerkleTree, n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(0, n - 1))
    proof, root, leaf = tree.inclusion_proof(m, n), tree.root(n), tree.leaf_hash_at(m)
    for forged in _corrupted_paths(proof, data):
        with pytest.raises(InvalidProofError):
            verify_inclusion(leaf, m, n, forged, root)
    other = data.draw(st.integers(-2, MAX_SIZE + 2).filter(lambda i: i != m))
    with pytest.raises(InvalidProofError):  # the right proof for another index
        verify_inclusion(leaf, other, n, proof, root)
    with pytest.raises(InvalidProofError):  # another entry
        verify_inclusion(leaf_hash(b"forged"), m, n, proof, root)
    with pytest.raises(InvalidProofError):
        verify_inclusion(leaf, m, n, proof, _flip([root], 0, data.draw(st.integers(0, 31)))[0])


@settings(max_examples=300, deadline=None)
@given(n=sizes, data=st.data())
def test_an_inclusion_proof_does_not_verify_against_another_size(tree: MerkleTree, n: int, data: st.DataObject) -> None:
    # A verifier takes size and root together from one signed checkpoint.
    m = data.draw(st.integers(0, n - 1))
    other = data.draw(st.integers(m + 1, MAX_SIZE).filter(lambda s: s != n))
    with pytest.raises(InvalidProofError):
        verify_inclusion(tree.leaf_hash_at(m), m, other, tree.inclusion_proof(m, n), tree.root(other))


def test_the_size_is_bound_by_the_root_and_not_by_the_inclusion_proof() -> None:
    # Leaf 0 has the same path shape in trees of 3 and 4 leaves: the proof alone cannot tell the
    # sizes apart. This is why proofs are checked against the root of a signed checkpoint.
    tree = MerkleTree.from_entries(entries(4))
    verify_inclusion(tree.leaf_hash_at(0), 0, 4, tree.inclusion_proof(0, 3), tree.root(3))


@settings(max_examples=300, deadline=None)
@given(n=st.integers(2, MAX_SIZE), data=st.data())
def test_a_forged_consistency_proof_never_verifies(tree: MerkleTree, n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(1, n - 1))
    proof, old_root, new_root = tree.consistency_proof(m, n), tree.root(m), tree.root(n)
    for forged in _corrupted_paths(proof, data):
        with pytest.raises(InvalidProofError):
            verify_consistency(m, n, old_root, new_root, forged)
    with pytest.raises(InvalidProofError):
        verify_consistency(m, n, _flip([old_root], 0, 0)[0], new_root, proof)
    with pytest.raises(InvalidProofError):
        verify_consistency(m, n, old_root, _flip([new_root], 0, 31)[0], proof)
    with pytest.raises(InvalidProofError):
        verify_consistency(n, m, new_root, old_root, proof)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(2, MAX_SIZE), data=st.data())
def test_a_consistency_proof_does_not_verify_for_other_sizes(tree: MerkleTree, n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(1, n - 1))
    m2 = data.draw(st.integers(1, MAX_SIZE))
    n2 = data.draw(st.integers(m2, MAX_SIZE))
    if (m2, n2) == (m, n):
        return
    with pytest.raises(InvalidProofError):
        verify_consistency(m2, n2, tree.root(m2), tree.root(n2), tree.consistency_proof(m, n))


def test_a_different_history_is_not_consistent() -> None:
    honest = MerkleTree.from_entries(entries(10))
    rewritten = MerkleTree.from_entries([b"rewritten", *entries(10)[1:]])
    with pytest.raises(InvalidProofError, match="does not extend"):
        verify_consistency(4, 10, honest.root(4), rewritten.root(10), honest.consistency_proof(4, 10))


@pytest.mark.parametrize(
    ("old", "new", "proof", "message"),
    [
        (0, 5, [], None),  # the empty tree is a prefix of every tree
        (0, 5, [b"x" * 32], "must be empty"),
        (3, 3, [], "different root"),
        (2, 5, [], "empty"),
        (2, 5, [b"short"], "32-byte"),
    ],
)
def test_consistency_edge_cases(old: int, new: int, proof: list[bytes], message: str | None) -> None:
    old_root = EMPTY_ROOT if old == 0 else leaf_hash(b"a")
    if message is None:
        verify_consistency(old, new, old_root, leaf_hash(b"b"), proof)
        return
    with pytest.raises(InvalidProofError, match=message):
        verify_consistency(old, new, old_root, leaf_hash(b"b"), proof)


def test_a_log_of_100_000_entries_builds_and_proves_at_every_size() -> None:
    # Scale, not speed: a timed assertion would fail on a slow machine, so none is made here.
    tree = MerkleTree.from_entries(i.to_bytes(8, "big") for i in range(100_000))
    root = tree.root()
    for index in range(0, 100_000, 997):
        verify_inclusion(tree.leaf_hash_at(index), index, 100_000, tree.inclusion_proof(index), root)
        verify_consistency(index + 1, 100_000, tree.root(index + 1), root, tree.consistency_proof(index + 1))


def test_exhaustively_no_proof_verifies_for_other_sizes_or_indices_up_to_16() -> None:
    n_max = 16
    tree = MerkleTree.from_entries(entries(n_max))
    pairs = [(m, n) for n in range(1, n_max + 1) for m in range(1, n + 1)]
    for m, n in pairs:
        if m == n:  # the empty proof of a tree's consistency with itself holds for every size
            continue
        proof = tree.consistency_proof(m, n)
        for m2, n2 in pairs:
            if (m2, n2) != (m, n):
                with pytest.raises(InvalidProofError):
                    verify_consistency(m2, n2, tree.root(m2), tree.root(n2), proof)
    for n in range(1, n_max + 1):
        for m in range(n):
            for other in range(-1, n_max + 1):
                if other != m:
                    with pytest.raises(InvalidProofError):
                        verify_inclusion(tree.leaf_hash_at(m), other, n, tree.inclusion_proof(m, n), tree.root(n))
