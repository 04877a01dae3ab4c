"""Value objects of the registry: kinds, tags, inventors and costs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from ipshare_kernel.errors import DomainError
from ipshare_kernel.money import BASIS_POINTS, Money


class AssetKind(StrEnum):
    INVENTION_PATENT = "invention_patent"
    UTILITY_MODEL = "utility_model"
    DESIGN = "design"
    SOFTWARE_COPYRIGHT = "software_copyright"
    IC_LAYOUT_DESIGN = "ic_layout_design"
    KNOW_HOW = "know_how"


class StrategicReserve(StrEnum):
    NONE = ""
    KEY_CORE = "key_core"  # key core technology
    COMMON_FOUNDATIONAL = "common_foundational"  # common foundational technology


class CostKind(StrEnum):
    FILING = "filing"
    PROSECUTION = "prosecution"
    ANNUITY = "annuity"
    MAINTENANCE = "maintenance"
    LITIGATION = "litigation"
    VALUATION = "valuation"


E = TypeVar("E", bound=StrEnum)


def parse_choice(enum: type[E], value: str, what: str) -> E:
    """A 422 naming the allowed values rather than a bare ValueError."""
    try:
        return enum(value.strip().lower())
    except ValueError:
        raise DomainError(f"unknown {what} {value!r}", value=value, allowed=[e.value for e in enum]) from None


# Two-letter offices (ISO 3166 codes such as CN, US, JP, KR) and the regional/international ones.
_REGIONAL_OFFICES = frozenset({"EP", "PCT", "WO", "EA", "AP", "OA", "GC", "EM"})
_COUNTRY = re.compile(r"[A-Z]{2}")


def parse_jurisdiction(code: str) -> str:
    normalized = code.strip().upper()
    if normalized in _REGIONAL_OFFICES or _COUNTRY.fullmatch(normalized):
        return normalized
    raise DomainError(f"unknown jurisdiction {code!r}: use a two-letter country code, EP or PCT", jurisdiction=code)


@dataclass(frozen=True, slots=True)
class Inventor:
    researcher_id: uuid.UUID
    name: str
    contribution_bps: int
    affiliation_member_id: uuid.UUID  # the member the inventor belonged to when the invention was made

    def to_record(self) -> dict[str, Any]:
        return {
            "researcher_id": str(self.researcher_id),
            "name": self.name,
            "contribution_bps": self.contribution_bps,
            "affiliation_member_id": str(self.affiliation_member_id),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Inventor:
        return cls(
            researcher_id=uuid.UUID(str(record["researcher_id"])),
            name=str(record["name"]),
            contribution_bps=int(record["contribution_bps"]),
            affiliation_member_id=uuid.UUID(str(record["affiliation_member_id"])),
        )


def check_inventors(inventors: Sequence[Inventor]) -> list[Inventor]:
    if not inventors:
        raise DomainError("an asset names at least one inventor")
    ids = [i.researcher_id for i in inventors]
    if len(set(ids)) != len(ids):
        raise DomainError("an inventor is named twice", researchers=sorted({str(i) for i in ids if ids.count(i) > 1}))
    not_positive = [str(i.researcher_id) for i in inventors if i.contribution_bps <= 0]
    if not_positive:
        raise DomainError("inventor contributions must be positive basis points", researchers=not_positive)
    total = sum(i.contribution_bps for i in inventors)
    if total != BASIS_POINTS:
        raise DomainError(f"inventor contributions must sum to {BASIS_POINTS} basis points, not {total}", total=total)
    return list(inventors)


def inventors_to_records(inventors: Iterable[Inventor]) -> list[dict[str, Any]]:
    return [i.to_record() for i in inventors]


@dataclass(frozen=True, slots=True)
class Cost:
    cost_id: uuid.UUID
    kind: CostKind
    amount: Money
    paid_by: uuid.UUID
    effective_date: date
    note: str
