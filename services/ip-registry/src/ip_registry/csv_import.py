"""Bulk import of a portfolio exported by a legacy tech-transfer system.

`parse_portfolio_csv` is pure: it validates every row and builds the aggregates
(every error, with its line, is reported; nothing is half-valid). The application
then checks the members against the registry and saves everything in one
transaction, or nothing.

Columns (a header row is required; empty cells mean "not known"):
    title, kind, jurisdiction, application_number, status, disclosure_date,
    filing_date, publication_number, publication_date, grant_number, grant_date,
    expiry_date, end_status, end_date, end_reason, technology_field,
    strategic_reserve, ownership_effective_date, owners, inventors
`owners` is `CREDITCODE:bps;CREDITCODE:bps` (the first one registered the asset);
`inventors` is `Name@CREDITCODE:bps;...` with the member the inventor belonged to.
Imported ownership is taken as agreed by every owner (the agreements are on file).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ip_registry.domain.asset import Asset
from ip_registry.domain.identifiers import check_credit_code
from ip_registry.domain.member import member_id_for, researcher_id_for
from ip_registry.domain.ownership import shares_from_pairs
from ip_registry.domain.values import Inventor
from ipshare_kernel.errors import DomainError

COLUMNS = (
    "title", "kind", "jurisdiction", "application_number", "status", "disclosure_date", "filing_date",
    "publication_number", "publication_date", "grant_number", "grant_date", "expiry_date", "end_status",
    "end_date", "end_reason", "technology_field", "strategic_reserve", "ownership_effective_date",
    "owners", "inventors",
)  # fmt: skip
LEGACY_STAFF_PREFIX = "legacy:"  # legacy exports name inventors, they do not identify them


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # in the file, the header being line 1
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewResearcher:
    researcher_id: uuid.UUID
    name: str
    member_id: uuid.UUID
    since: date
    staff_number: str


@dataclass(slots=True)
class ImportPlan:
    """The assets to save (by line), the inventors they name, and the members they need."""

    assets: list[tuple[int, Asset]] = field(default_factory=list)
    researchers: dict[uuid.UUID, NewResearcher] = field(default_factory=dict)
    members_by_line: dict[int, set[uuid.UUID]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_portfolio_csv(text: str, today: date) -> ImportPlan:
    plan = ImportPlan()
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        plan.errors.append(RowError(1, "the header lacks columns", {"missing": missing}))
        return plan
    seen: dict[uuid.UUID, int] = {}
    for row in reader:
        line = reader.line_num
        try:
            asset, inventors, members = _parse_row(row, today)
        except (DomainError, ValueError) as exc:
            details = exc.details if isinstance(exc, DomainError) else {}
            plan.errors.append(RowError(line, getattr(exc, "message", str(exc)), details))
            continue
        if asset.id in seen:
            plan.errors.append(RowError(line, f"same application as line {seen[asset.id]}", {"line": seen[asset.id]}))
            continue
        seen[asset.id] = line
        plan.assets.append((line, asset))
        plan.members_by_line[line] = members
        for inventor in inventors:
            _note_researcher(plan, inventor, asset.disclosure_date or asset.filing_date or today)
    return plan


def _note_researcher(plan: ImportPlan, inventor: Inventor, invented_on: date) -> None:
    known = plan.researchers.get(inventor.researcher_id)
    since = min(invented_on, known.since) if known else invented_on
    plan.researchers[inventor.researcher_id] = NewResearcher(
        inventor.researcher_id, inventor.name, inventor.affiliation_member_id, since, _staff_number(inventor.name)
    )


def _staff_number(name: str) -> str:
    return LEGACY_STAFF_PREFIX + " ".join(name.split())


def _parse_row(row: Mapping[str, str | None], today: date) -> tuple[Asset, list[Inventor], set[uuid.UUID]]:
    cell = {k: (v or "").strip() for k, v in row.items() if k is not None}
    owners = shares_from_pairs(_owner_pairs(cell["owners"]))
    inventors = _inventors(cell["inventors"])
    registered_by = next(iter(owners))
    asset = Asset.register(
        title=cell["title"],
        kind=cell["kind"],
        jurisdiction=cell["jurisdiction"],
        registered_by=registered_by,
        owners=owners,
        inventors=inventors,
        effective_date=today,
        application_number=cell["application_number"],
        status=cell["status"] or "disclosed",
        technology_field=cell["technology_field"],
        strategic_reserve=cell["strategic_reserve"],
        disclosure_date=_date(cell, "disclosure_date"),
        filing_date=_date(cell, "filing_date"),
        publication_number=cell["publication_number"],
        publication_date=_date(cell, "publication_date"),
        grant_number=cell["grant_number"],
        grant_date=_date(cell, "grant_date"),
        expiry_date=_date(cell, "expiry_date"),
        ownership_effective_date=_date(cell, "ownership_effective_date") or _date(cell, "filing_date") or today,
        confirmed_by=list(owners),
    )
    if cell["end_status"]:
        ended = _date(cell, "end_date")
        if ended is None:
            raise DomainError("an ended asset needs its end_date")
        asset.end(cell["end_status"], cell["end_reason"], ended)
    members = set(owners) | {i.affiliation_member_id for i in inventors}
    return asset, inventors, members


def _date(cell: Mapping[str, str], column: str) -> date | None:
    value = cell[column]
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError(f"{column} is not a date (YYYY-MM-DD): {value!r}", column=column) from None


def _bps(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DomainError(f"{what} must be whole basis points, not {text!r}") from None


def _owner_pairs(text: str) -> list[tuple[uuid.UUID, int]]:
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        code, _, bps = part.rpartition(":")
        pairs.append((member_id_for(check_credit_code(code)), _bps(bps, "an owner share")))
    return pairs


def _inventors(text: str) -> list[Inventor]:
    inventors = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        named, _, bps = part.rpartition(":")
        name, at, code = named.rpartition("@")
        if not at or not name.strip():
            raise DomainError(f"an inventor is written Name@CREDITCODE:bps, not {part!r}")
        member_id = member_id_for(check_credit_code(code))
        researcher_id = researcher_id_for(member_id, _staff_number(name))
        inventors.append(Inventor(researcher_id, name.strip(), _bps(bps, "a contribution"), member_id))
    return inventors
