"""What incubation knows of the other services: members, researchers, assets and licenses.

Incubation owns none of these; it learns them from the IP registry's and
commercialization's topics (`adapters/directory.py`) and refuses a command that names
an id it does not know, or an asset its contributing member did not own on the day.
The lookups are a port (`Directory`), so the use cases stay free of I/O details and
unit tests can hand in a plain implementation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from ipshare_kernel.errors import Conflict, DomainError

REGISTRY, COMMERCIALIZATION = "ip-registry", "commercialization"


class UnknownReference(Conflict):
    """The command names an id this service has not learned from the owning service's topic.

    A 409: the id may be wrong, or it was created a moment ago and its event has not
    arrived yet (then the same request succeeds shortly).
    """

    code = "unknown_reference"


@dataclass(frozen=True, slots=True)
class KnownMember:
    member_id: str
    name: str
    kind: str  # enterprise | university | research_institute | other
    state_established: bool


@dataclass(frozen=True, slots=True)
class KnownResearcher:
    researcher_id: str
    name: str


@dataclass(frozen=True, slots=True)
class OwnershipChange:
    """The owners (member id -> basis points) in force from `effective_date`; {} once assigned out."""

    effective_date: date
    owners: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class KnownAsset:
    asset_id: str
    title: str
    ownership: tuple[OwnershipChange, ...] = field(default=())  # in the registry's order

    def owners_on(self, day: date) -> Mapping[str, int]:
        """The owners in force on `day`: the last change effective by then (on one day, the one
        recorded last); none before ownership took effect or after an assignment out."""
        in_force: Mapping[str, int] = {}
        for change in sorted(self.ownership, key=lambda c: c.effective_date):  # stable: recording order
            if change.effective_date > day:
                break
            in_force = change.owners
        return in_force


@dataclass(frozen=True, slots=True)
class KnownLicense:
    license_id: str
    asset_ids: frozenset[str]
    licensee: str


class Directory(Protocol):
    """Lookups of what the other services published; None for an id not (yet) known."""

    def member(self, member_id: str) -> KnownMember | None: ...

    def researcher(self, researcher_id: str) -> KnownResearcher | None: ...

    def asset(self, asset_id: str) -> KnownAsset | None: ...

    def license(self, license_id: str) -> KnownLicense | None: ...


def unknown(kind: str, ref: str, field_name: str, source: str) -> UnknownReference:
    return UnknownReference(
        f"{kind} {ref} is not known here: the {source} topic has not mentioned it (a wrong id, or one "
        "created a moment ago: then retry shortly)",
        field=field_name, id=ref, source=source,
    )  # fmt: skip


def require_member(directory: Directory, member_id: str, field_name: str) -> KnownMember:
    found = directory.member(member_id)
    if found is None:
        raise unknown("member", member_id, field_name, REGISTRY)
    return found


def require_researcher(directory: Directory, researcher_id: str, field_name: str) -> KnownResearcher:
    found = directory.researcher(researcher_id)
    if found is None:
        raise unknown("researcher", researcher_id, field_name, REGISTRY)
    return found


def require_assets(directory: Directory, asset_ids: Iterable[str], field_name: str) -> list[KnownAsset]:
    assets = []
    for asset_id in asset_ids:
        found = directory.asset(asset_id)
        if found is None:
            raise unknown("asset", asset_id, field_name, REGISTRY)
        assets.append(found)
    return assets


def require_license_covering(directory: Directory, license_id: str, asset_ids: Iterable[str]) -> KnownLicense:
    """The license a spin-off is founded by: known, and covering every asset it is founded on."""
    found = directory.license(license_id)
    if found is None:
        raise unknown("license", license_id, "license_id", COMMERCIALIZATION)
    if outside := sorted(set(asset_ids) - found.asset_ids):
        raise DomainError("the license does not cover every asset the spin-off is founded on",
                          field="asset_ids", license_id=license_id, not_licensed=outside)  # fmt: skip
    return found


def require_owned_by(assets: Iterable[KnownAsset], member_id: str, day: date) -> None:
    """Every asset was owned (wholly or in part) by the member on `day`."""
    for asset in assets:
        owners = asset.owners_on(day)
        if owners.get(member_id, 0) <= 0:
            raise Conflict(
                f"member {member_id} did not own asset {asset.asset_id} on {day.isoformat()}",
                field="asset_ids", asset_id=asset.asset_id, member_id=member_id, day=day.isoformat(),
                owners=dict(owners),
            )  # fmt: skip
