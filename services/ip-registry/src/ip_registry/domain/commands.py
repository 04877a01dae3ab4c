"""Inputs of the registration use case, as an entrypoint or an import builds them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class InventorClaim:
    """An inventor as named by the registering member; the registry adds name and affiliation."""

    researcher_id: uuid.UUID
    contribution_bps: int
    # The member the inventor belonged to when the invention was made; None: the
    # researcher's affiliation on the disclosure (or filing) date.
    affiliation_member_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class AssetRegistration:
    title: str
    kind: str
    jurisdiction: str
    registered_by: uuid.UUID
    owners: dict[uuid.UUID, int]
    inventors: list[InventorClaim]
    application_number: str = ""
    status: str = "disclosed"
    technology_field: str = ""
    strategic_reserve: str = ""
    disclosure_date: date | None = None
    filing_date: date | None = None
    publication_number: str = ""
    publication_date: date | None = None
    grant_number: str = ""
    grant_date: date | None = None
    expiry_date: date | None = None
    ownership_effective_date: date | None = None
    confirmed_by: list[uuid.UUID] = field(default_factory=list)  # co-owners' agreements on file (imports)

    @property
    def invention_date(self) -> date | None:
        return self.disclosure_date or self.filing_date
