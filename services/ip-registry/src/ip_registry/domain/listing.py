"""Which assets a list shows, and in what pages: filters and opaque cursors.

Lists run in registration order. A cursor names the log position of the last asset
a page showed and the next page starts after it, so an asset registered while a
client pages through appears once, at the end, and none is shown twice.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ip_registry.domain.asset import Asset
from ip_registry.domain.lifecycle import AssetStatus, parse_status
from ip_registry.domain.values import AssetKind, StrategicReserve, parse_choice, parse_jurisdiction
from ipshare_kernel.errors import DomainError

T = TypeVar("T")
R = TypeVar("R")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_CURSOR_PREFIX = "p:"
# `strategic=` takes a tag, or `any` (either tag) or `none` (untagged).
STRATEGIC_CHOICES: dict[str, frozenset[StrategicReserve]] = {
    StrategicReserve.KEY_CORE.value: frozenset({StrategicReserve.KEY_CORE}),
    StrategicReserve.COMMON_FOUNDATIONAL.value: frozenset({StrategicReserve.COMMON_FOUNDATIONAL}),
    "any": frozenset({StrategicReserve.KEY_CORE, StrategicReserve.COMMON_FOUNDATIONAL}),
    "none": frozenset({StrategicReserve.NONE}),
}


class InvalidQuery(DomainError):
    """A list parameter the client got wrong: the same code as a malformed request."""

    code = "invalid_request"


def _parameter(name: str, parse: Callable[[str], R], value: str) -> R:
    """`parse(value)`, with the parameter's name in any error."""
    try:
        return parse(value)
    except DomainError as error:
        raise InvalidQuery(f"{name}: {error.message}", parameter=name, **error.details) from None


def _field_key(text: str) -> str:
    """Technology fields are free text: compare them ignoring case and spacing."""
    return " ".join(text.split()).casefold()


def _strategic(value: str) -> frozenset[StrategicReserve]:
    tags = STRATEGIC_CHOICES.get(value.strip().lower())
    if tags is None:
        raise DomainError(f"unknown strategic reserve filter {value!r}", value=value, allowed=list(STRATEGIC_CHOICES))
    return tags


@dataclass(frozen=True, slots=True)
class AssetFilter:
    """Every condition given must hold; None: any value."""

    owner: uuid.UUID | None = None  # owns, co-owns or is named to own
    status: AssetStatus | None = None
    kind: AssetKind | None = None
    jurisdiction: str | None = None
    technology_field: str | None = None
    strategic: frozenset[StrategicReserve] | None = None

    @classmethod
    def parse(
        cls,
        *,
        owner: uuid.UUID | None = None,
        status: str = "",
        kind: str = "",
        jurisdiction: str = "",
        technology_field: str = "",
        strategic: str = "",
    ) -> AssetFilter:
        """From query strings, where empty means "any"; a bad value is a 422 naming the parameter."""
        return cls(
            owner=owner,
            status=_parameter("status", parse_status, status.strip().lower()) if status.strip() else None,
            kind=_parameter("kind", lambda v: parse_choice(AssetKind, v, "asset kind"), kind) if kind.strip() else None,
            jurisdiction=_parameter("jurisdiction", parse_jurisdiction, jurisdiction) if jurisdiction.strip() else None,
            technology_field=_field_key(technology_field) or None,
            strategic=_parameter("strategic", _strategic, strategic) if strategic.strip() else None,
        )

    def matches(self, asset: Asset) -> bool:
        return (
            (self.owner is None or self.owner in asset.members_involved())
            and (self.status is None or asset.status is self.status)
            and (self.kind is None or asset.kind is self.kind)
            and (self.jurisdiction is None or asset.jurisdiction == self.jurisdiction)
            and (self.technology_field is None or _field_key(asset.technology_field) == self.technology_field)
            and (self.strategic is None or asset.strategic_reserve in self.strategic)
        )


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position a page starts after (0 without a cursor)."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        position = int(text.removeprefix(_CURSOR_PREFIX)) if text.startswith(_CURSOR_PREFIX) else -1
    except (binascii.Error, UnicodeDecodeError, ValueError):
        position = -1
    if position < 0:
        raise InvalidQuery("cursor: not one this service issued; pass back a page's next_cursor", parameter="cursor")
    return position


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit: a page holds 1 to {MAX_LIMIT} assets, not {limit}", parameter="limit")
    return limit


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None: this is the last page


def paginate(entries: Iterable[tuple[int, T]], keep: Callable[[T], bool], limit: int) -> Page[T]:
    """The first `limit` kept items of (position, item) pairs in position order.

    Reads one kept item past the page, so a page is never followed by an empty one.
    """
    items: list[T] = []
    last = 0
    for position, item in entries:
        if not keep(item):
            continue
        if len(items) == limit:
            return Page(items, encode_cursor(last))
        items.append(item)
        last = position
    return Page(items, None)
