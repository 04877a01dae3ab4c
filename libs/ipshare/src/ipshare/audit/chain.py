"""A hash chain over the audit log: each entry's hash covers the one before it.

``entry_hash[i] = SHA-256(entry_hash[i-1] || canonical_bytes[i])`` with ``entry_hash[-1] = GENESIS``.
The writer records ``entry_hash`` next to each entry; the last one is the chain head that signed
checkpoints carry.

``verify_chain`` checks a log as given and says what happened where, without stopping at the first
problem: the positions inside the canonical bytes must run 0, 1, 2, ... (a gap is a removal, a
position that shows up later is a reordering, one seen twice a duplicate), and each entry's hash must
follow from its content and the hash recorded for the position before it. Linking by position rather
than by list order keeps one swap from being reported as a cascade of changed entries.
A log rewritten from the changed entry on, hashes recomputed, passes this check: only a signed
checkpoint (its chain head and root hash) shows that.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from hashlib import sha256

from ipshare.audit.canonical import CanonicalEvent
from ipshare.audit.errors import CanonicalFormError

GENESIS = sha256(b"ipshare.audit.chain.genesis.v1").digest()


def chain_hash(previous: bytes, canonical: bytes) -> bytes:
    """The hash of an entry: ``SHA-256(previous entry hash || canonical bytes)``."""
    return sha256(previous + canonical).digest()


def chain_hashes(canonicals: Iterable[bytes], previous: bytes = GENESIS) -> list[bytes]:
    """The entry hash of each entry, in order."""
    hashes: list[bytes] = []
    for canonical in canonicals:
        previous = chain_hash(previous, canonical)
        hashes.append(previous)
    return hashes


class HashChain:
    """The running head of a chain, for a writer that appends one entry at a time."""

    def __init__(self, head: bytes = GENESIS, size: int = 0) -> None:
        self.head = head
        self.size = size

    def append(self, canonical: bytes) -> bytes:
        """Chain the next entry; returns its entry hash (the new head)."""
        self.head = chain_hash(self.head, canonical)
        self.size += 1
        return self.head


@dataclass(frozen=True)
class ChainedEntry:
    """One log entry as stored: its canonical bytes and the entry hash recorded with it."""

    canonical: bytes
    entry_hash: bytes


def chain_entries(canonicals: Iterable[bytes], previous: bytes = GENESIS) -> list[ChainedEntry]:
    """Entries with their entry hashes, as an honest writer records them."""
    canonicals = list(canonicals)
    return [ChainedEntry(c, h) for c, h in zip(canonicals, chain_hashes(canonicals, previous), strict=True)]


class BreakKind(StrEnum):
    CHANGED = "changed"
    REMOVED = "removed"
    REORDERED = "reordered"
    DUPLICATED = "duplicated"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class ChainBreak:
    """One place where the log is not what its writer chained.

    ``index`` is the place in the list as given where the break shows; ``position`` the first log
    position concerned (the changed entry, the first missing one, the first one out of place), or
    None for an entry that cannot be read.
    """

    kind: BreakKind
    index: int
    position: int | None
    message: str


def verify_chain(
    entries: Sequence[ChainedEntry], previous: bytes = GENESIS, first_position: int = 0
) -> list[ChainBreak]:
    """Every break in the chain, in log order; empty when the log is intact.

    ``previous`` and ``first_position`` let a verifier check a slice of a log whose earlier part
    it has already checked.
    """
    return _ChainCheck(entries, previous, first_position).run()


def verify_positions(canonicals: Sequence[bytes], first_position: int = 0) -> list[ChainBreak]:
    """Removed, reordered, duplicated and unreadable entries, for a log kept without entry hashes."""
    entries = [ChainedEntry(canonical, b"") for canonical in canonicals]
    return _ChainCheck(entries, GENESIS, first_position, check_links=False).run()


def first_break(entries: Sequence[ChainedEntry], previous: bytes = GENESIS) -> ChainBreak | None:
    """The first place where the chain breaks, or None."""
    breaks = verify_chain(entries, previous)
    return breaks[0] if breaks else None


class _ChainCheck:
    def __init__(
        self, entries: Sequence[ChainedEntry], previous: bytes, first_position: int, check_links: bool = True
    ) -> None:
        self.entries = entries
        self.check_links = check_links
        self.previous = previous
        self.first_position = first_position
        self.positions = [_position_of(entry) for entry in entries]
        self.present = sorted({p for p in self.positions if p is not None})
        self.recorded: dict[int, bytes] = {}
        for position, entry in zip(self.positions, entries, strict=True):
            if position is not None:
                self.recorded.setdefault(position, entry.entry_hash)
        self.breaks: list[ChainBreak] = []

    def run(self) -> list[ChainBreak]:
        expected, seen = self.first_position, set[int]()
        for index, position in enumerate(self.positions):
            if position is None:  # taken as the expected entry, damaged: its neighbours still link
                self._add(
                    BreakKind.MALFORMED,
                    index,
                    None,
                    f"entry {index} of the log (position {expected} expected) is not a canonical event record",
                )
                self.recorded.setdefault(expected, self.entries[index].entry_hash)
                seen.add(expected)
                expected += 1
                continue
            if position in seen:
                self._add(BreakKind.DUPLICATED, index, position, f"position {position} appears more than once")
                continue
            if position < self.first_position:
                self._add(
                    BreakKind.REORDERED, index, position, f"position {position} precedes the first position checked"
                )
                continue
            if position > expected:
                self._check_skipped(index, expected, position)
            seen.add(position)
            expected = max(expected, position + 1)
            if self.check_links:
                self._check_link(index, position)
        return self.breaks

    def _check_skipped(self, index: int, expected: int, position: int) -> None:
        """Classify the positions jumped over: present later (reordered) or absent (removed)."""
        later = self.present[bisect.bisect_left(self.present, expected) : bisect.bisect_left(self.present, position)]
        if later:
            self._add(
                BreakKind.REORDERED,
                index,
                later[0],
                f"entries out of order: position {position} comes before position(s) {_ranges(later)}",
            )
        missing = position - expected - len(later)
        if missing:
            present_later = set(later)
            first_missing = next(p for p in range(expected, position) if p not in present_later)
            # a wildly wrong position would list billions: name the gap only when it is small
            gaps = _ranges([p for p in range(expected, position) if p not in present_later]) if missing <= 1000 else ""
            self._add(
                BreakKind.REMOVED,
                index,
                first_missing,
                f"{missing} entr{'y' if missing == 1 else 'ies'} missing before position {position}"
                + (f": position(s) {gaps}" if gaps else ""),
            )

    def _check_link(self, index: int, position: int) -> None:
        before = self.previous if position == self.first_position else self.recorded.get(position - 1)
        if before is None:  # the predecessor is missing or unreadable: already reported
            return
        entry = self.entries[index]
        if chain_hash(before, entry.canonical) != entry.entry_hash:
            self._add(
                BreakKind.CHANGED,
                index,
                position,
                f"the entry at position {position} does not match its recorded hash: "
                f"it (or the hash recorded for position {position - 1}) was changed",
            )

    def _add(self, kind: BreakKind, index: int, position: int | None, message: str) -> None:
        self.breaks.append(ChainBreak(kind, index, position, message))


def _position_of(entry: ChainedEntry) -> int | None:
    try:
        return CanonicalEvent.from_bytes(entry.canonical).position
    except CanonicalFormError:
        return None


def _ranges(positions: Sequence[int]) -> str:
    """``[2, 3, 4, 9]`` -> ``"2-4, 9"``."""
    parts: list[str] = []
    start = previous = positions[0]
    for position in [*positions[1:], None]:
        if position is not None and position == previous + 1:
            previous = position
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if position is not None:
            start = previous = position
    return ", ".join(parts)
