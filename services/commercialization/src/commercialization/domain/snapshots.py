"""Snapshots of long-lived aggregates, stored as plain JSON values.

The library's snapshot stores an aggregate's attributes as they are, and its JSON
transcoder knows neither dataclasses, sets nor dicts keyed by UUIDs. An aggregate that
is snapshotted says how its state is written (`encode_snapshot`) and read back
(`decode_snapshot`); a change to that shape bumps the aggregate's `class_version` with an
upcast, as the library expects.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, Self, cast

from eventsourcing.domain import Snapshot


class Snapshotted(Protocol):
    @classmethod
    def encode_snapshot(cls, state: dict[str, Any]) -> dict[str, Any]: ...

    @classmethod
    def decode_snapshot(cls, state: dict[str, Any]) -> dict[str, Any]: ...


class EncodedSnapshot(Snapshot):
    """A snapshot whose state the aggregate's class encodes and decodes."""

    @classmethod
    def take(cls, aggregate: Any) -> Self:
        taken = super().take(aggregate)
        codec = cast("Snapshotted", type(aggregate))
        return dataclasses.replace(taken, state=codec.encode_snapshot(dict(taken.state)))

    def mutate(self, _: None) -> Any:
        aggregate = super().mutate(None)
        codec = cast("Snapshotted", type(aggregate))
        aggregate.__dict__.update(codec.decode_snapshot(dict(aggregate.__dict__)))
        return aggregate
