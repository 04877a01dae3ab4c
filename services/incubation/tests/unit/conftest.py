"""What the unit tests know of the other services: a directory filled by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from incubation.domain.references import KnownAsset, KnownLicense, KnownMember, KnownResearcher, OwnershipChange


@dataclass
class StaticDirectory:
    """A `Directory` over plain dicts (the service reads the same from its projection of the topics)."""

    members: dict[str, KnownMember] = field(default_factory=dict)
    researchers: dict[str, KnownResearcher] = field(default_factory=dict)
    assets: dict[str, KnownAsset] = field(default_factory=dict)
    licenses: dict[str, KnownLicense] = field(default_factory=dict)

    def member(self, member_id: str) -> KnownMember | None:
        return self.members.get(member_id)

    def researcher(self, researcher_id: str) -> KnownResearcher | None:
        return self.researchers.get(researcher_id)

    def asset(self, asset_id: str) -> KnownAsset | None:
        return self.assets.get(asset_id)

    def license(self, license_id: str) -> KnownLicense | None:
        return self.licenses.get(license_id)

    def add_member(self, member_id: str, name: str, state_established: bool = True) -> KnownMember:
        self.members[member_id] = KnownMember(member_id, name, "university", state_established)
        return self.members[member_id]

    def add_researcher(self, researcher_id: str, name: str) -> None:
        self.researchers[researcher_id] = KnownResearcher(researcher_id, name)

    def add_asset(self, asset_id: str, owners: dict[str, int], since: date) -> KnownAsset:
        self.assets[asset_id] = KnownAsset(asset_id, f"asset {asset_id}", (OwnershipChange(since, owners),))
        return self.assets[asset_id]
