"""What a license covers, and the exclusivity rule between licenses.

Two licenses clash when they share an asset, a field of use, a country and a
day, and at least one of them is exclusive or sole: an exclusive or sole
licensee was promised that nobody else is licensed there, and a new exclusive
license cannot be promised where someone already holds a license.

Fields of use are IPC/CPC codes that nest (`fields.py`): two fields meet when a code of
one lies inside a code of the other; `all fields` meets every field. A field recorded
as free text alone (before codes were used) meets another such field of the same text,
and every field named by codes: nothing says the two are apart.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import pycountry

from commercialization.domain.fields import codes_overlap, covered_by, parse_field_code
from ipshare_kernel.errors import DomainError

WORLDWIDE = "WORLDWIDE"
ALL_FIELDS = "all fields"


@functools.cache
def iso_countries() -> frozenset[str]:
    """The officially assigned ISO 3166-1 alpha-2 codes (pycountry's copy of the standard)."""
    return frozenset(country.alpha_2 for country in pycountry.countries)


class LicenseType(StrEnum):
    EXCLUSIVE = "exclusive"
    SOLE = "sole"
    NON_EXCLUSIVE = "non_exclusive"

    @property
    def excludes_others(self) -> bool:
        return self is not LicenseType.NON_EXCLUSIVE

    @property
    def needs_every_owner(self) -> bool:
        """Patent Law art. 14: exclusive and sole licenses need every co-owner's consent."""
        return self.excludes_others


def parse_license_type(value: str) -> LicenseType:
    try:
        return LicenseType(value)
    except ValueError:
        raise DomainError(f"unknown license type {value!r}", license_type=value) from None


def normalize_territory(codes: Iterable[str]) -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, or WORLDWIDE alone (which covers every country)."""
    cleaned = frozenset(code.strip().upper() for code in codes)
    if not cleaned:
        raise DomainError("a territory needs at least one country code or WORLDWIDE")
    if WORLDWIDE in cleaned:
        return frozenset({WORLDWIDE})
    bad = sorted(code for code in cleaned if code not in iso_countries())
    if bad:
        raise DomainError(
            f"not an ISO 3166-1 alpha-2 country code: {', '.join(bad)}; a territory is a list of assigned "
            f"two-letter country codes (CN, US, DE...), or {WORLDWIDE} alone for the whole world",
            codes=bad,
        )
    return cleaned


def normalize_field(field_of_use: str) -> str:
    cleaned = " ".join(field_of_use.split()).lower()
    if not cleaned:
        raise DomainError("a field of use is required (or 'all fields')")
    return cleaned


def territory_covers(territory: frozenset[str], country: str) -> bool:
    return WORLDWIDE in territory or country in territory


def field_covers(licensed: str, codes: tuple[str, ...], field_of_use: str) -> bool:
    """Whether a report line's field (a code, or the license's own description) lies in the license's field."""
    if (licensed == ALL_FIELDS and not codes) or field_of_use == licensed:
        return True
    try:
        parse_field_code(field_of_use)
    except DomainError:
        return False  # free text other than the license's own description
    return covered_by(codes, field_of_use)


@dataclass(frozen=True, slots=True)
class Footprint:
    """Where and when a license applies: the part the exclusivity rule looks at."""

    license_id: uuid.UUID
    license_type: LicenseType
    asset_ids: frozenset[uuid.UUID]
    field_of_use: str  # the description ("all fields" when the field is not restricted)
    territory: frozenset[str]
    start_date: date
    end_date: date | None  # None: open-ended (e.g. until the last patent expires)
    fields: tuple[str, ...] = ()  # IPC/CPC codes; empty: all fields, or a free-text field alone

    @property
    def all_fields(self) -> bool:
        return not self.fields and self.field_of_use == ALL_FIELDS


@dataclass(frozen=True, slots=True)
class Overlap:
    asset_ids: frozenset[uuid.UUID]
    field_of_use: str
    territory: frozenset[str]
    start_date: date
    end_date: date | None
    fields: tuple[str, ...] = ()

    def describe(self) -> dict[str, object]:
        return {
            "asset_ids": sorted(str(a) for a in self.asset_ids),
            "field_of_use": self.field_of_use,
            "fields": list(self.fields),
            "territory": sorted(self.territory),
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat() if self.end_date else None,
        }


def _field_overlap(a: Footprint, b: Footprint) -> tuple[str, tuple[str, ...]] | None:
    """The common field (description, codes) of two footprints, or None (see the module's docstring)."""
    if a.all_fields:
        return b.field_of_use, b.fields
    if b.all_fields:
        return a.field_of_use, a.fields
    if a.fields and b.fields:
        common = codes_overlap(a.fields, b.fields)
        return (a.field_of_use, common) if common else None
    if not a.fields and not b.fields:
        return (a.field_of_use, ()) if a.field_of_use == b.field_of_use else None
    text, coded = (a, b) if not a.fields else (b, a)
    return text.field_of_use, coded.fields


def _territory_overlap(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
    if WORLDWIDE in a:
        return b
    if WORLDWIDE in b:
        return a
    return a & b


def _earliest_end(a: date | None, b: date | None) -> date | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def overlap(a: Footprint, b: Footprint) -> Overlap | None:
    """The common ground of two licenses (inclusive dates), or None."""
    assets = a.asset_ids & b.asset_ids
    field = _field_overlap(a, b)
    territory = _territory_overlap(a.territory, b.territory)
    start = max(a.start_date, b.start_date)
    end = _earliest_end(a.end_date, b.end_date)
    if not assets or field is None or not territory or (end is not None and end < start):
        return None
    return Overlap(assets, field[0], territory, start, end, field[1])


@dataclass(frozen=True, slots=True)
class ExclusivityConflict:
    license_id: uuid.UUID
    license_type: LicenseType
    overlap: Overlap


def find_conflict(candidate: Footprint, existing: Iterable[Footprint]) -> ExclusivityConflict | None:
    """The first existing license (by start date, then id) the candidate may not coexist with."""
    for other in sorted(existing, key=lambda f: (f.start_date, str(f.license_id))):
        if other.license_id == candidate.license_id:
            continue
        if not (candidate.license_type.excludes_others or other.license_type.excludes_others):
            continue
        common = overlap(candidate, other)
        if common is not None:
            return ExclusivityConflict(other.license_id, other.license_type, common)
    return None
