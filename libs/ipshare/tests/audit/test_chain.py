"""Hash chain: the hashes by definition, and a verifier that names what was done where."""

from __future__ import annotations

from collections.abc import Callable
from hashlib import sha256
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipshare.audit.canonical import canonical_event_bytes
from ipshare.audit.chain import (
    GENESIS,
    BreakKind,
    ChainedEntry,
    HashChain,
    chain_entries,
    chain_hashes,
    first_break,
    verify_chain,
    verify_positions,
)

AGGREGATE = UUID("00000000-0000-0000-0000-000000000001")


def event(position: int, state: bytes | None = None) -> bytes:
    return canonical_event_bytes(
        position, AGGREGATE, position + 1, "Thing", state if state is not None else f"state {position}".encode()
    )


def log(n: int = 10) -> list[ChainedEntry]:
    return chain_entries(event(i) for i in range(n))


def test_the_hashes_by_definition() -> None:
    a, b = event(0), event(1)
    first = sha256(GENESIS + a).digest()
    assert chain_hashes([a, b]) == [first, sha256(first + b).digest()]
    assert sha256(b"ipshare.audit.chain.genesis.v1").digest() == GENESIS


def test_a_writer_appending_one_at_a_time_gets_the_same_hashes() -> None:
    chain = HashChain()
    assert [chain.append(e.canonical) for e in log(5)] == [e.entry_hash for e in log(5)]
    assert chain.size == 5


def test_an_intact_log_has_no_break() -> None:
    assert verify_chain(log()) == []
    assert verify_chain([]) == []
    assert first_break(log()) is None


def change_entry(entries: list[ChainedEntry]) -> list[ChainedEntry]:
    entries[4] = ChainedEntry(event(4, b"state 4, amount doubled"), entries[4].entry_hash)
    return entries


def change_recorded_hash(entries: list[ChainedEntry]) -> list[ChainedEntry]:
    entries[4] = ChainedEntry(entries[4].canonical, b"\x00" * 32)
    return entries


def remove_entry(entries: list[ChainedEntry]) -> list[ChainedEntry]:
    del entries[4]
    return entries


def remove_three(entries: list[ChainedEntry]) -> list[ChainedEntry]:
    del entries[4:7]
    return entries


def swap_two(entries: list[ChainedEntry]) -> list[ChainedEntry]:
    entries[4], entries[5] = entries[5], entries[4]
    return entries


def move_back(entries: list[ChainedEntry]) -> list[ChainedEntry]:
    entries.insert(8, entries.pop(4))
    return entries


def duplicate(entries: list[ChainedEntry]) -> list[ChainedEntry]:
    entries.insert(5, entries[4])
    return entries


def garble(entries: list[ChainedEntry]) -> list[ChainedEntry]:
    entries[4] = ChainedEntry(entries[4].canonical[:-3], entries[4].entry_hash)
    return entries


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (change_entry, [(BreakKind.CHANGED, 4)]),
        (change_recorded_hash, [(BreakKind.CHANGED, 4), (BreakKind.CHANGED, 5)]),
        (remove_entry, [(BreakKind.REMOVED, 4)]),
        (remove_three, [(BreakKind.REMOVED, 4)]),
        (swap_two, [(BreakKind.REORDERED, 4)]),
        (move_back, [(BreakKind.REORDERED, 4)]),
        (duplicate, [(BreakKind.DUPLICATED, 4)]),
        (garble, [(BreakKind.MALFORMED, None)]),
    ],
)
def test_the_verifier_names_the_kind_and_position(
    tamper: Callable[[list[ChainedEntry]], list[ChainedEntry]], expected: list[tuple[BreakKind, int | None]]
) -> None:
    breaks = verify_chain(tamper(log()))
    assert [(b.kind, b.position) for b in breaks] == expected


def test_messages_say_what_happened() -> None:
    (removed,) = verify_chain(remove_three(log()))
    assert removed.message == "3 entries missing before position 7: position(s) 4-6"
    (reordered,) = verify_chain(swap_two(log()))
    assert reordered.message == "entries out of order: position 5 comes before position(s) 4"
    (changed,) = verify_chain(change_entry(log()))
    assert "position 4 does not match its recorded hash" in changed.message


def test_a_rewritten_tail_with_recomputed_hashes_is_not_seen_by_the_chain_alone() -> None:
    # Only the chain head in a signed checkpoint catches this (see the verifier tests).
    canonicals = [e.canonical for e in log()]
    canonicals[4] = event(4, b"rewritten")
    assert verify_chain(chain_entries(canonicals)) == []


def test_a_slice_is_checked_from_the_hash_before_it() -> None:
    entries = log()
    assert verify_chain(entries[5:], previous=entries[4].entry_hash, first_position=5) == []
    assert [b.kind for b in verify_chain(entries[5:], previous=GENESIS, first_position=5)] == [BreakKind.CHANGED]


@given(st.data())
def test_any_single_change_of_an_entry_is_found_at_its_position(data: st.DataObject) -> None:
    entries = log(12)
    index = data.draw(st.integers(0, 11))
    state = data.draw(st.binary(max_size=30).filter(lambda s: s != f"state {index}".encode()))
    entries[index] = ChainedEntry(event(index, state), entries[index].entry_hash)
    breaks = verify_chain(entries)
    assert [(b.kind, b.position) for b in breaks] == [(BreakKind.CHANGED, index)]


def test_positions_alone_show_removals_and_reorderings() -> None:
    canonicals = [event(i) for i in range(10)]
    assert verify_positions(canonicals) == []
    canonicals[3], canonicals[4] = canonicals[4], canonicals[3]
    del canonicals[7]
    assert [(b.kind, b.position) for b in verify_positions(canonicals)] == [
        (BreakKind.REORDERED, 3),
        (BreakKind.REMOVED, 7),
    ]
