"""Request and response bodies of the HTTP API (pydantic), and their mapping from the domain."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, Field

from ip_registry.domain.asset import Asset
from ip_registry.domain.commands import AssetRegistration, InventorClaim
from ip_registry.domain.lifecycle import AssetStatus
from ip_registry.domain.listing import DEFAULT_LIMIT, MAX_LIMIT, AssetFilter
from ip_registry.domain.member import Member, MemberKind, Researcher
from ip_registry.domain.ownership import OwnershipPeriod
from ip_registry.domain.portfolio import Counts, PortfolioFigures
from ip_registry.domain.values import AssetKind, CostKind, StrategicReserve
from ipshare.schemas import Body, MoneyIn, OptionalChoice, blank_is_unset

# The tag's wire values, from the enum so /docs cannot drift from what the API accepts.
STRATEGIC_RESERVE = (
    f"{StrategicReserve.KEY_CORE.value} (key core technology) | "
    f"{StrategicReserve.COMMON_FOUNDATIONAL.value} (common foundational technology) | empty (untagged)"
)

# How an asset's owners came to be (`OwnershipPeriod.cause`), and where its ownership stands
# (`Asset.ownership_state`); tests hold them to what the domain records.
OwnershipCause = Literal["registration", "transfer", "assignment"]
OwnershipState = Literal["pending", "declined", "effective", "assigned_out"]
# `GET /assets?strategic=`: a tag, `any` (either tag) or `none` (untagged); `STRATEGIC_CHOICES` parses it.
StrategicFilter = Literal["key_core", "common_foundational", "any", "none"]

E = TypeVar("E")


def _filter_choice(value: Any) -> Any:
    """As the list filter has always read it (and gRPC's still does): blank is no filter, case and
    surrounding spaces do not matter."""
    value = blank_is_unset(value)
    return value.strip().lower() if isinstance(value, str) else value


FilterChoice = Annotated[E | None, BeforeValidator(_filter_choice)]

# ---- members and researchers ------------------------------------------------


class AdmitMember(Body):
    name: str = Field(min_length=1, max_length=200)
    kind: MemberKind
    state_established: bool
    credit_code: str = Field(description="unified social credit code (18 characters, GB 32100-2015)")
    effective_date: date | None = None


class MemberChange(Body):
    reason: str = ""
    effective_date: date | None = None


class MemberOut(BaseModel):
    member_id: uuid.UUID
    name: str
    kind: MemberKind
    state_established: bool
    credit_code: str
    admitted_on: date
    suspended: bool
    version: int

    @classmethod
    def of(cls, member: Member) -> MemberOut:
        return cls(
            member_id=member.id,
            name=member.name,
            kind=member.kind,
            state_established=member.state_established,
            credit_code=member.credit_code,
            admitted_on=member.admitted_on,
            suspended=member.suspended,
            version=member.version,
        )


class RegisterResearcher(Body):
    name: str = Field(min_length=1, max_length=200)
    member_id: uuid.UUID
    staff_number: str = ""
    effective_date: date | None = None


class Affiliation(Body):
    member_id: uuid.UUID
    effective_date: date


class ResearcherOut(BaseModel):
    researcher_id: uuid.UUID
    name: str
    member_id: uuid.UUID
    version: int

    @classmethod
    def of(cls, researcher: Researcher) -> ResearcherOut:
        return cls(
            researcher_id=researcher.id,
            name=researcher.name,
            member_id=researcher.member_id,
            version=researcher.version,
        )


class PortfolioCounts(BaseModel):
    disclosures: int = Field(description="assets disclosed that year (else filed, else registered)")
    filings: int = Field(description="applications filed that year")
    grants: int = Field(description="grants that year")
    active: int = Field(description="assets live at the end of the year (on as_of, for as_of's year)")

    @classmethod
    def counts(cls, counts: Counts) -> dict[str, int]:
        return {"disclosures": counts.disclosures, "filings": counts.filings, "grants": counts.grants,
                "active": counts.active}  # fmt: skip


class PortfolioKind(PortfolioCounts):
    kind: AssetKind


class PortfolioYear(PortfolioCounts):
    year: int
    by_kind: list[PortfolioKind] = Field(description="the kinds with any figure that year")


class PortfolioOut(BaseModel):
    """A member's yearly figures over the assets it owned or co-owned on `as_of`."""

    member_id: uuid.UUID
    as_of: date
    years: list[PortfolioYear] = Field(description="every year with any figure, oldest first")

    @classmethod
    def of(cls, member_id: uuid.UUID, as_of: date, figures: PortfolioFigures) -> PortfolioOut:
        years = [
            PortfolioYear(
                year=y.year,
                **PortfolioCounts.counts(y.total),
                by_kind=[PortfolioKind(kind=kind, **PortfolioCounts.counts(c)) for kind, c in y.by_kind.items()],
            )
            for y in figures.by_year()
        ]
        return cls(member_id=member_id, as_of=as_of, years=years)


# ---- assets ------------------------------------------------------------------


class OwnerShare(BaseModel):
    member_id: uuid.UUID
    share_bps: int = Field(gt=0, le=10_000)


class InventorIn(Body):
    researcher_id: uuid.UUID
    contribution_bps: int = Field(gt=0, le=10_000)
    affiliation_member_id: uuid.UUID | None = None

    def claim(self) -> InventorClaim:
        return InventorClaim(self.researcher_id, self.contribution_bps, self.affiliation_member_id)


class RegisterAsset(Body):
    title: str = Field(min_length=1, max_length=500)
    kind: AssetKind
    jurisdiction: str = Field(description="CN, US, EP, JP, KR, PCT, ...")
    registered_by: uuid.UUID
    owners: list[OwnerShare] = Field(min_length=1)
    inventors: list[InventorIn] = Field(min_length=1)
    application_number: str = ""
    status: AssetStatus = AssetStatus.DISCLOSED
    technology_field: str = ""
    strategic_reserve: StrategicReserve = Field(StrategicReserve.NONE, description=STRATEGIC_RESERVE)
    disclosure_date: date | None = None
    filing_date: date | None = None
    publication_number: str = ""
    publication_date: date | None = None
    grant_number: str = ""
    grant_date: date | None = None
    expiry_date: date | None = None
    ownership_effective_date: date | None = None

    def registration(self) -> AssetRegistration:
        return AssetRegistration(
            title=self.title,
            kind=self.kind,
            jurisdiction=self.jurisdiction,
            registered_by=self.registered_by,
            owners=shares_of(self.owners),
            inventors=[i.claim() for i in self.inventors],
            application_number=self.application_number,
            status=self.status,
            technology_field=self.technology_field,
            strategic_reserve=self.strategic_reserve,
            disclosure_date=self.disclosure_date,
            filing_date=self.filing_date,
            publication_number=self.publication_number,
            publication_date=self.publication_date,
            grant_number=self.grant_number,
            grant_date=self.grant_date,
            expiry_date=self.expiry_date,
            ownership_effective_date=self.ownership_effective_date,
        )


def shares_of(owners: list[OwnerShare]) -> dict[uuid.UUID, int]:
    """The share map; a member named twice adds up, which the domain then rejects by the total."""
    shares: dict[uuid.UUID, int] = {}
    for owner in owners:
        shares[owner.member_id] = shares.get(owner.member_id, 0) + owner.share_bps
    return shares


def owner_list(shares: dict[uuid.UUID, int]) -> list[OwnerShare]:
    return [OwnerShare(member_id=m, share_bps=bps) for m, bps in sorted(shares.items(), key=lambda kv: str(kv[0]))]


class CoOwnerAnswer(Body):
    member_id: uuid.UUID
    reason: str = ""
    effective_date: date | None = None


class ProposeOwnership(Body):
    owners: list[OwnerShare] = Field(min_length=1)
    ownership_effective_date: date | None = None


class TransferShares(Body):
    from_member_id: uuid.UUID
    to_member_id: uuid.UUID
    share_bps: int = Field(gt=0, le=10_000)
    effective_date: date
    request_id: str = Field("", description="makes a retried transfer a no-op")


class FileApplication(Body):
    application_number: str = Field(min_length=1)
    filing_date: date


class Publish(Body):
    publication_number: str = Field(min_length=1)
    publication_date: date


class Grant(Body):
    grant_number: str = Field(min_length=1)
    grant_date: date
    expiry_date: date | None = None


class EndAsset(Body):
    status: Literal["lapsed", "abandoned", "expired", "invalidated"]
    effective_date: date
    reason: str = ""


class StrategicTag(Body):
    strategic_reserve: StrategicReserve = Field(description=STRATEGIC_RESERVE)
    effective_date: date | None = None


class CorrectInventors(Body):
    inventors: list[InventorIn] = Field(min_length=1)
    reason: str = Field(min_length=1)
    effective_date: date | None = None


class RecordCost(Body):
    kind: CostKind
    amount: MoneyIn
    paid_by: uuid.UUID
    effective_date: date
    note: str = ""


class InventorOut(BaseModel):
    researcher_id: uuid.UUID
    name: str
    contribution_bps: int
    affiliation_member_id: uuid.UUID


class CostOut(BaseModel):
    cost_id: uuid.UUID
    kind: CostKind
    amount_minor: int
    currency: str
    paid_by: uuid.UUID
    effective_date: date
    note: str


class PendingOwnership(BaseModel):
    owners: list[OwnerShare]
    awaiting: list[uuid.UUID]
    declined_by: uuid.UUID | None
    decline_reason: str


class AssetOut(BaseModel):
    asset_id: uuid.UUID
    title: str
    kind: AssetKind
    jurisdiction: str
    application_number: str
    publication_number: str
    grant_number: str
    status: AssetStatus
    technology_field: str
    strategic_reserve: StrategicReserve = Field(description=STRATEGIC_RESERVE)
    registered_by: uuid.UUID
    registered_on: date
    disclosure_date: date | None
    filing_date: date | None
    publication_date: date | None
    grant_date: date | None
    expiry_date: date | None
    ended_on: date | None
    ownership_state: OwnershipState = Field(
        description="pending: awaiting co-owners' confirmations | declined: a named owner declined | effective | "
        "assigned_out: assigned out of the membership, no member owns it"
    )
    owners: list[OwnerShare]
    pending_ownership: PendingOwnership | None
    inventors: list[InventorOut]
    costs: list[CostOut]
    version: int

    @classmethod
    def of(cls, asset: Asset) -> AssetOut:
        proposal = asset.proposal
        pending = None
        if proposal is not None and not asset.history:
            pending = PendingOwnership(
                owners=owner_list(dict(proposal.shares)),
                awaiting=proposal.awaiting,
                declined_by=proposal.declined_by,
                decline_reason=proposal.decline_reason,
            )
        return cls(
            asset_id=asset.id,
            title=asset.title,
            kind=asset.kind,
            jurisdiction=asset.jurisdiction,
            application_number=asset.application_number,
            publication_number=asset.publication_number,
            grant_number=asset.grant_number,
            status=asset.status,
            technology_field=asset.technology_field,
            strategic_reserve=asset.strategic_reserve,
            registered_by=asset.registered_by,
            registered_on=asset.registered_on,
            disclosure_date=asset.disclosure_date,
            filing_date=asset.filing_date,
            publication_date=asset.publication_date,
            grant_date=asset.grant_date,
            expiry_date=asset.expiry_date,
            ended_on=asset.ended_on,
            ownership_state=asset.ownership_state,
            owners=owner_list(asset.owners),
            pending_ownership=pending,
            inventors=[
                InventorOut(
                    researcher_id=i.researcher_id,
                    name=i.name,
                    contribution_bps=i.contribution_bps,
                    affiliation_member_id=i.affiliation_member_id,
                )
                for i in asset.inventors
            ],
            costs=[
                CostOut(
                    cost_id=c.cost_id,
                    kind=c.kind,
                    amount_minor=c.amount.amount,
                    currency=c.amount.currency,
                    paid_by=c.paid_by,
                    effective_date=c.effective_date,
                    note=c.note,
                )
                for c in asset.costs
            ],
            version=asset.version,
        )


class AssetQuery(Body):
    """`GET /assets` parameters: filters (all must hold), then a page; an unknown parameter is a 422."""

    owner: uuid.UUID | None = Field(None, description="a member that owns, co-owns or is named to own")
    status: FilterChoice[AssetStatus] = None
    kind: FilterChoice[AssetKind] = None
    jurisdiction: str = Field("", description="CN, US, EP, PCT, ...")
    field: str = Field("", description="technology field (case and spacing ignored)")
    strategic: FilterChoice[StrategicFilter] = Field(None, description="a tag, any (either tag) or none (untagged)")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str = Field("", description="the next_cursor of the previous page")

    def asset_filter(self) -> AssetFilter:
        return AssetFilter.parse(
            owner=self.owner, status=self.status or "", kind=self.kind or "", jurisdiction=self.jurisdiction,
            technology_field=self.field, strategic=self.strategic or "",
        )  # fmt: skip


class AssetPage(BaseModel):
    items: list[AssetOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class OwnershipOut(BaseModel):
    asset_id: uuid.UUID
    as_of: date
    owners: list[OwnerShare]


class OwnershipPeriodOut(BaseModel):
    effective_from: date
    cause: OwnershipCause = Field(description="assignment: out of the membership (no owners from then)")
    owners: list[OwnerShare]

    @classmethod
    def of(cls, period: OwnershipPeriod) -> OwnershipPeriodOut:
        return cls(effective_from=period.effective_from, cause=period.cause, owners=owner_list(dict(period.shares)))


class Created(BaseModel):
    id: uuid.UUID
    version: int


class ImportRowError(BaseModel):
    line: int
    message: str
    details: dict[str, object]


class ImportOut(BaseModel):
    imported: int
    asset_ids: list[uuid.UUID] = Field(description="the registered assets, in line order")
    import_id: uuid.UUID = Field(description="the record of this file (derived from its SHA-256)")


# ---- identifier checks (nothing is registered) ---------------------------------


class IdentifierIn(Body):
    """A credit code, or an application number with its jurisdiction and kind (as `POST /assets` takes them)."""

    credit_code: str | None = Field(None, description="a unified social credit code (18 characters)")
    application_number: str | None = Field(None, description="e.g. 202110012345.9, or 97101765.4 before 2003")
    jurisdiction: str = Field("CN", description="of the application number")
    kind: OptionalChoice[AssetKind] = Field(None, description="checks the CN type digit")


class IdentifierChecksIn(Body):
    items: list[IdentifierIn] = Field(min_length=1, max_length=10_000, description="e.g. a spreadsheet's rows")


class IdentifierCheckOut(BaseModel):
    index: int = Field(description="the item's position in the request, from 0")
    valid: bool
    normalized: str | None = Field(description="as the registry would store it")
    message: str | None = Field(description="what is wrong, when invalid")
    details: dict[str, object]


class IdentifierChecksOut(BaseModel):
    valid: int
    invalid: int
    items: list[IdentifierCheckOut]
