"""The ip-registry use cases: one method each, called directly by HTTP routes and gRPC servicers.

Every method takes the command context first, authorizes with the rules in
`permissions`, and saves all it changes with one `record` call (one transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from ip_registry import permissions as may
from ip_registry.csv_import import ImportPlan, RowError, parse_portfolio_csv
from ip_registry.domain.asset import Asset
from ip_registry.domain.commands import AssetRegistration, InventorClaim
from ip_registry.domain.listing import DEFAULT_LIMIT, AssetFilter, Page, check_limit, decode_cursor, paginate
from ip_registry.domain.member import Member, Researcher
from ip_registry.domain.ownership import OwnershipPeriod
from ip_registry.domain.ownership_transfer import OwnershipTransfer, TransferRequest
from ip_registry.domain.portfolio import PortfolioFigures, holders_on, portfolio_figures
from ip_registry.domain.portfolio_import import PortfolioImport, file_sha256
from ip_registry.domain.values import Inventor
from ipshare.eventstore import CommandContext, ServiceApplication
from ipshare.permissions import Permission, require
from ipshare_kernel.errors import Conflict, DomainError
from ipshare_kernel.money import Money


@dataclass(frozen=True, slots=True)
class ImportReport:
    imported: int
    asset_ids: list[uuid.UUID]
    errors: list[RowError]
    import_id: uuid.UUID | None = None  # the record of the imported file (None when nothing was imported)
    replayed: bool = False  # the same file was imported before: this is the first import's report


class IpRegistryApplication(ServiceApplication):
    source: ClassVar[str] = "ip-registry"
    # Business dates default to the day the command is handled; tests may pin it.

    # ---- members and researchers -------------------------------------------

    def admit_member(
        self,
        ctx: CommandContext,
        *,
        name: str,
        kind: str,
        state_established: bool,
        credit_code: str,
        effective_date: date | None = None,
    ) -> uuid.UUID:
        require(ctx.principal, Permission.MANAGE_MEMBERSHIP, "admit members")
        member = Member.admit(
            name=name,
            kind=kind,
            state_established=state_established,
            credit_code=credit_code,
            effective_date=effective_date or self.clock.today(),
        )
        if self._exists(member.id):
            raise _conflict(f"a member with credit code {member.credit_code} is already admitted", member.id)
        self.record(ctx, member)
        return member.id

    def suspend_member(
        self, ctx: CommandContext, member_id: uuid.UUID, reason: str, effective_date: date | None = None
    ) -> None:
        require(ctx.principal, Permission.MANAGE_MEMBERSHIP, "suspend members")
        member = self.find(Member, member_id, "member")
        member.suspend(reason, effective_date or self.clock.today())
        self.record(ctx, member)

    def reinstate_member(
        self, ctx: CommandContext, member_id: uuid.UUID, reason: str = "", effective_date: date | None = None
    ) -> None:
        require(ctx.principal, Permission.MANAGE_MEMBERSHIP, "reinstate members")
        member = self.find(Member, member_id, "member")
        member.reinstate(reason, effective_date or self.clock.today())
        self.record(ctx, member)

    def get_member(self, ctx: CommandContext, member_id: uuid.UUID) -> Member:
        may.check_may_read_member(ctx.principal, member_id)
        return self.find(Member, member_id, "member")

    def register_researcher(
        self,
        ctx: CommandContext,
        *,
        name: str,
        member_id: uuid.UUID,
        effective_date: date | None = None,
        staff_number: str = "",
    ) -> uuid.UUID:
        may.check_may_manage_researchers(ctx.principal, member_id)
        self._active_members([member_id])
        researcher = Researcher.register(
            name=name,
            member_id=member_id,
            effective_date=effective_date or self.clock.today(),
            staff_number=staff_number,
        )
        if self._exists(researcher.id):
            raise _conflict(f"researcher {staff_number} of member {member_id} is already registered", researcher.id)
        self.record(ctx, researcher)
        return researcher.id

    def change_affiliation(
        self, ctx: CommandContext, researcher_id: uuid.UUID, member_id: uuid.UUID, effective_date: date
    ) -> Researcher:
        """The researcher moves to `member_id`: recorded by the member it leaves (its consent), or an admin."""
        researcher = self.find(Researcher, researcher_id, "researcher")
        may.check_may_move_researcher(ctx.principal, leaving=researcher.member_id)
        self._active_members([member_id])
        researcher.affiliate(member_id, effective_date)
        self.record(ctx, researcher)
        return researcher

    def get_researcher(self, ctx: CommandContext, researcher_id: uuid.UUID) -> Researcher:
        researcher = self.find(Researcher, researcher_id, "researcher")
        may.check_may_read_member(ctx.principal, researcher.member_id)
        return researcher

    # ---- registration and co-ownership -------------------------------------

    def register_asset(self, ctx: CommandContext, registration: AssetRegistration) -> uuid.UUID:
        """A pending ownership unless the registering member is the sole owner."""
        may.check_may_register(ctx.principal, registration.registered_by, registration.owners)
        self._active_members(registration.owners)
        asset = self._build_asset(registration, self.clock.today())
        if self._exists(asset.id):
            raise _conflict(
                f"{asset.jurisdiction} application {asset.application_number} is already registered", asset.id
            )
        self.record(ctx, asset)
        return asset.id

    def confirm_co_ownership(
        self, ctx: CommandContext, asset_id: uuid.UUID, member_id: uuid.UUID, effective_date: date | None = None
    ) -> None:
        may.check_may_answer(ctx.principal, member_id)
        self._active_members([member_id])
        asset = self.find(Asset, asset_id, "asset")
        asset.confirm_ownership(member_id, effective_date or self.clock.today())
        self.record(ctx, asset)

    def decline_co_ownership(
        self,
        ctx: CommandContext,
        asset_id: uuid.UUID,
        member_id: uuid.UUID,
        reason: str,
        effective_date: date | None = None,
    ) -> None:
        may.check_may_answer(ctx.principal, member_id)
        asset = self.find(Asset, asset_id, "asset")
        asset.decline_ownership(member_id, reason, effective_date or self.clock.today())
        self.record(ctx, asset)

    def propose_ownership(
        self,
        ctx: CommandContext,
        asset_id: uuid.UUID,
        owners: Mapping[uuid.UUID, int],
        ownership_effective_date: date | None = None,
    ) -> None:
        """After a co-owner declined, the registering member proposes other shares."""
        asset = self.find(Asset, asset_id, "asset")
        may.check_may_register(ctx.principal, asset.registered_by, owners)
        self._active_members(owners)
        asset.propose_ownership(asset.registered_by, owners, self.clock.today(), ownership_effective_date)
        self.record(ctx, asset)

    def transfer_shares(
        self,
        ctx: CommandContext,
        asset_id: uuid.UUID,
        *,
        from_member_id: uuid.UUID,
        to_member_id: uuid.UUID,
        share_bps: int,
        effective_date: date,
        request_id: str = "",
    ) -> bool:
        """An assignment of shares; False when `request_id` was already applied (a retry)."""
        may.check_may_transfer(ctx.principal)
        self._active_members([to_member_id])
        asset = self.find(Asset, asset_id, "asset")
        changed = asset.transfer_shares(
            from_member_id, to_member_id, share_bps, effective_date, self.clock.today(), request_id
        )
        if changed:
            self.record(ctx, asset)
        return changed

    def assign_asset(
        self,
        ctx: CommandContext,
        asset_id: uuid.UUID,
        *,
        to_member_id: uuid.UUID,
        effective_date: date,
        request_id: str = "",
    ) -> bool:
        """Every owner assigns its whole share to one member; False on a repeated `request_id`."""
        may.check_may_transfer(ctx.principal)
        self._active_members([to_member_id])
        asset = self.find(Asset, asset_id, "asset")
        changed = asset.assign_all(to_member_id, effective_date, self.clock.today(), request_id)
        if changed:
            self.record(ctx, asset)
        return changed

    def transfer_ownership(self, ctx: CommandContext, request: TransferRequest) -> OwnershipTransfer:
        """Carry out an assignment agreed in another service, once per request id: a repeat gets
        the first result and stores nothing. A buyer outside the membership ends the ownership."""
        may.check_may_transfer(ctx.principal)
        handled = self._load(OwnershipTransfer.create_id(request.request_id))
        if isinstance(handled, OwnershipTransfer):
            return handled.replay(request)
        if request.assignee_member_id is not None:
            self._active_members([request.assignee_member_id])
        asset = self.find(Asset, request.asset_id, "asset")
        asset.assign_ownership(
            request.from_owners, request.assignee_member_id, request.assignee,
            request.effective_date, self.clock.today(), request.request_id,
        )  # fmt: skip
        transfer = OwnershipTransfer.record(request, asset.owners)
        self.record(ctx, asset, transfer)  # one transaction: a crash leaves neither
        return transfer

    # ---- lifecycle, inventors, costs ---------------------------------------

    def file_application(
        self, ctx: CommandContext, asset_id: uuid.UUID, application_number: str, filing_date: date
    ) -> None:
        asset = self._managed_asset(ctx, asset_id)
        asset.file(application_number, filing_date)
        self.record(ctx, asset)

    def publish(
        self, ctx: CommandContext, asset_id: uuid.UUID, publication_number: str, publication_date: date
    ) -> None:
        asset = self._managed_asset(ctx, asset_id)
        asset.publish(publication_number, publication_date)
        self.record(ctx, asset)

    def grant(
        self,
        ctx: CommandContext,
        asset_id: uuid.UUID,
        grant_number: str,
        grant_date: date,
        expiry_date: date | None = None,
    ) -> None:
        asset = self._managed_asset(ctx, asset_id)
        asset.grant(grant_number, grant_date, expiry_date)
        self.record(ctx, asset)

    def end_asset(
        self, ctx: CommandContext, asset_id: uuid.UUID, status: str, effective_date: date, reason: str = ""
    ) -> None:
        """Lapsed, abandoned, expired or invalidated."""
        asset = self._managed_asset(ctx, asset_id)
        asset.end(status, reason, effective_date)
        self.record(ctx, asset)

    def tag_strategic_reserve(
        self, ctx: CommandContext, asset_id: uuid.UUID, strategic_reserve: str, effective_date: date | None = None
    ) -> None:
        asset = self._managed_asset(ctx, asset_id)
        asset.tag(strategic_reserve, effective_date or self.clock.today())
        self.record(ctx, asset)

    def correct_inventors(
        self,
        ctx: CommandContext,
        asset_id: uuid.UUID,
        inventors: Sequence[InventorClaim],
        reason: str,
        effective_date: date | None = None,
    ) -> None:
        """A correction is a new event with the full list; the old list stays in the history."""
        asset = self._managed_asset(ctx, asset_id)
        invented_on = asset.disclosure_date or asset.filing_date or asset.registered_on
        resolved = self._resolve_inventors(inventors, invented_on)
        asset.correct_inventors(resolved, reason, effective_date or self.clock.today())
        self.record(ctx, asset)

    def record_cost(
        self,
        ctx: CommandContext,
        asset_id: uuid.UUID,
        *,
        kind: str,
        amount: Money,
        paid_by: uuid.UUID,
        effective_date: date,
        note: str = "",
        cost_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """A cost the payer will recover from the asset's income."""
        asset = self._managed_asset(ctx, asset_id)
        self._known_members([paid_by])
        cost_id = cost_id or uuid.uuid4()
        asset.record_cost(cost_id, kind, amount, paid_by, effective_date, note)
        self.record(ctx, asset)
        return cost_id

    # ---- bulk import ---------------------------------------------------------

    def import_portfolio_csv(self, ctx: CommandContext, text: str) -> ImportReport:
        """All or nothing: any row error (reported by line) imports nothing, and a valid file is
        saved in one transaction with the record of the file, so a failure part-way stores
        nothing. The same file sent again gets the first import's report and stores nothing."""
        require(ctx.principal, Permission.ACT_FOR_ANY_MEMBER, "import portfolios")
        digest = file_sha256(text)
        if (first := self._imported(PortfolioImport.create_id(digest))) is not None:
            return first
        plan = parse_portfolio_csv(text, self.clock.today())
        errors = plan.errors or self._member_errors(plan)
        if errors:
            return ImportReport(imported=0, asset_ids=[], errors=errors)
        researchers = [
            Researcher.register(name=r.name, member_id=r.member_id, effective_date=r.since, staff_number=r.staff_number)
            for r in plan.researchers.values()
            if not self._exists(r.researcher_id)
        ]
        assets = [asset for _, asset in plan.assets]
        clashes = [RowError(line, "already registered", {"asset_id": str(a.id)}) for line, a in plan.assets
                   if a.application_number and self._exists(a.id)]  # fmt: skip
        if clashes:
            return ImportReport(imported=0, asset_ids=[], errors=clashes)
        record = PortfolioImport.record(digest, [a.id for a in assets], [r.id for r in researchers])
        try:
            self.record(ctx, *researchers, *assets, record)  # one transaction: every event or none
        except IntegrityError:
            if (first := self._imported(record.id)) is not None:
                return first  # the same file, imported meanwhile by another request
            raise Conflict(
                "an application or inventor in this file was registered while it was being imported; "
                "nothing was imported: send the file again to see which",
            ) from None
        return ImportReport(imported=len(assets), asset_ids=record.asset_ids, errors=[], import_id=record.id)

    def _imported(self, import_id: uuid.UUID) -> ImportReport | None:
        done = self._load(import_id)
        if not isinstance(done, PortfolioImport):
            return None
        return ImportReport(done.imported, list(done.asset_ids), [], import_id=done.id, replayed=True)

    def _member_errors(self, plan: ImportPlan) -> list[RowError]:
        needed = {m for members in plan.members_by_line.values() for m in members}
        loaded = {m: self._load(m) for m in needed}
        members = {m: a for m, a in loaded.items() if isinstance(a, Member)}
        errors = []
        for line, named in plan.members_by_line.items():
            unknown = sorted(str(m) for m in named if m not in members)
            suspended = sorted(str(m) for m in named if m in members and members[m].suspended)
            if unknown:
                errors.append(RowError(line, "not admitted members", {"unknown_members": unknown}))
            if suspended:
                errors.append(RowError(line, "suspended members", {"suspended_members": suspended}))
        return errors

    # ---- queries -----------------------------------------------------------

    def get_asset(self, ctx: CommandContext, asset_id: uuid.UUID) -> Asset:
        asset = self.find(Asset, asset_id, "asset")
        may.check_may_read_asset(ctx.principal, asset.members_involved())
        return asset

    def ownership_as_of(self, ctx: CommandContext, asset_id: uuid.UUID, as_of: date) -> dict[uuid.UUID, int]:
        """Confirmed shares on `as_of` (empty if ownership was not yet effective then)."""
        return self.get_asset(ctx, asset_id).owners_as_of(as_of)

    def ownership_history(self, ctx: CommandContext, asset_id: uuid.UUID) -> list[OwnershipPeriod]:
        return list(self.get_asset(ctx, asset_id).history)

    def list_assets(
        self, ctx: CommandContext, where: AssetFilter | None = None, *, cursor: str = "", limit: int = DEFAULT_LIMIT
    ) -> Page[Asset]:
        """One page of the assets the caller may read that match `where`, in registration order.

        Loads assets one by one from the event store: a stopgap until the read model serves lists.
        """
        where = where or AssetFilter()
        if where.owner is not None:
            may.check_may_read_member(ctx.principal, where.owner)
        after, limit = decode_cursor(cursor), check_limit(limit)

        def shown(asset: Asset) -> bool:
            return where.matches(asset) and may.may_read_asset(ctx.principal, asset.members_involved())

        return paginate(self._registered_assets(after), shown, limit)

    def member_portfolio(
        self, ctx: CommandContext, member_id: uuid.UUID, as_of: date | None = None
    ) -> PortfolioFigures:
        """The yearly figures up to `as_of` (default today) over the assets the member owned or
        co-owned on that day (an asset it had sold by then does not count; see `holders_on`)."""
        may.check_may_read_member(ctx.principal, member_id)
        self.find(Member, member_id, "member")
        day = as_of or self.clock.today()
        held = [asset for _, asset in self._registered_assets(0) if member_id in holders_on(asset.history, day)]
        return portfolio_figures(held, day)

    # ---- helpers -----------------------------------------------------------

    def _build_asset(self, registration: AssetRegistration, today: date) -> Asset:
        invented_on = registration.invention_date or today
        return Asset.register(
            title=registration.title,
            kind=registration.kind,
            jurisdiction=registration.jurisdiction,
            registered_by=registration.registered_by,
            owners=registration.owners,
            inventors=self._resolve_inventors(registration.inventors, invented_on),
            effective_date=today,
            application_number=registration.application_number,
            status=registration.status,
            technology_field=registration.technology_field,
            strategic_reserve=registration.strategic_reserve,
            disclosure_date=registration.disclosure_date,
            filing_date=registration.filing_date,
            publication_number=registration.publication_number,
            publication_date=registration.publication_date,
            grant_number=registration.grant_number,
            grant_date=registration.grant_date,
            expiry_date=registration.expiry_date,
            ownership_effective_date=registration.ownership_effective_date,
            confirmed_by=registration.confirmed_by,
        )

    def _resolve_inventors(self, claims: Iterable[InventorClaim], invented_on: date) -> list[Inventor]:
        """Name each inventor, and take the affiliation on the invention date unless one is given."""
        inventors: list[Inventor] = []
        unknown: list[str] = []
        for claim in claims:
            researcher = self._load(claim.researcher_id)
            if not isinstance(researcher, Researcher):
                unknown.append(str(claim.researcher_id))
                continue
            affiliation = claim.affiliation_member_id or researcher.affiliation_on(invented_on)
            if affiliation is None:
                raise DomainError(
                    f"researcher {researcher.name} had no affiliation on {invented_on.isoformat()}: name it",
                    researcher_id=str(claim.researcher_id),
                )
            inventors.append(Inventor(claim.researcher_id, researcher.name, claim.contribution_bps, affiliation))
        if unknown:
            raise DomainError("inventors must be registered researchers", unknown_researchers=unknown)
        self._known_members({i.affiliation_member_id for i in inventors})
        return inventors

    def _known_members(self, member_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Member]:
        members: dict[uuid.UUID, Member] = {}
        unknown: list[str] = []
        for member_id in member_ids:
            member = self._load(member_id)
            if isinstance(member, Member):
                members[member_id] = member
            else:
                unknown.append(str(member_id))
        if unknown:
            raise DomainError("not admitted members: " + ", ".join(sorted(unknown)), unknown_members=sorted(unknown))
        return members

    def _active_members(self, member_ids: Iterable[uuid.UUID]) -> None:
        suspended = sorted(str(m.id) for m in self._known_members(member_ids).values() if m.suspended)
        if suspended:
            raise DomainError("suspended members: " + ", ".join(suspended), suspended_members=suspended)

    def _managed_asset(self, ctx: CommandContext, asset_id: uuid.UUID) -> Asset:
        asset = self.find(Asset, asset_id, "asset")
        may.check_may_manage_asset(ctx.principal, asset.members_involved())
        return asset

    def _load(self, aggregate_id: uuid.UUID) -> object | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _exists(self, aggregate_id: uuid.UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _registered_assets(self, after: int) -> Iterator[tuple[int, Asset]]:
        """(log position of its registration, asset) for every asset registered after `after`."""
        topics = [get_topic(Asset.Registered)]
        while batch := self.recorder.select_notifications(after, 500, topics=topics, inclusive_of_start=False):
            for notification in batch:
                yield notification.id, self.find(Asset, uuid.UUID(str(notification.originator_id)), "asset")
            after = batch[-1].id


def _conflict(message: str, aggregate_id: uuid.UUID, **details: Any) -> Conflict:
    return Conflict(message, id=str(aggregate_id), **details)
