"""What every part of commercialization's application shares: the service's one event store.

`DealStore` is the eventsourcing `Application` each use-case part extends: it loads the
aggregates (licenses, per-asset indexes, accounts), saves what a use case changed with
one `record` (one transaction), reads "today" from the injected clock, and asks who
owns an asset of two lookups: `ownership` for the checks of a write (the IP registry over
gRPC, falling back to the local projection of its topic when it does not answer) and
`reads` for who may read (the local projection, so reads keep working while the registry
is down).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, ClassVar, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from commercialization.application.ownership import OwnershipLookup, OwnershipRecord, PointInTimeOwnership
from commercialization.domain.account import LicenseAccount, RevenueKind
from commercialization.domain.license import License, LicenseStatus, Owners
from commercialization.domain.reports import RoyaltyLedger
from commercialization.domain.terms import RoyaltyTerms
from commercialization.permissions import ensure_submits_reports
from ipshare.auth import Principal
from ipshare.eventstore import CommandContext, ServiceApplication
from ipshare.permissions import Permission, may, own_member
from ipshare_kernel.clock import SYSTEM_CLOCK, Clock
from ipshare_kernel.errors import Conflict, DomainError, Forbidden, NotFound
from ipshare_kernel.money import CurrencyError, Money

A = TypeVar("A", bound=Aggregate)


def money(amount: int, currency: str) -> Money:
    try:
        return Money(amount, currency)
    except (CurrencyError, TypeError) as exc:
        raise DomainError(str(exc), currency=currency) from None


class DealStore(ServiceApplication):
    source: ClassVar[str] = "commercialization"
    # eventsourcing names the tables after the application: every part opens the same ones.
    name = "CommercializationApplication"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = DealStore.name

    def __init__(
        self,
        env: dict[str, str] | None = None,
        ownership: OwnershipLookup | None = None,
        reads: OwnershipRecord | None = None,
        snapshot_interval: int = 0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`snapshot_interval` (`SNAPSHOT_INTERVAL`): snapshot each license account and royalty ledger,
        which live as long as their deal, every that many events (0: never). `clock`: the day a
        command without a date of its own takes effect on."""
        if snapshot_interval > 0:
            env = {**(env or {}), "IS_SNAPSHOTTING_ENABLED": "y"}
            # The library reads the intervals off the application; the setting is per process.
            intervals = {LicenseAccount: snapshot_interval, RoyaltyLedger: snapshot_interval}
            object.__setattr__(self, "snapshotting_intervals", intervals)
        super().__init__(env, clock)
        self.ownership = ownership  # authoritative: the checks of a write
        self.reads = reads or (PointInTimeOwnership(ownership) if ownership is not None else None)

    def close(self) -> None:
        """Close the event store, and the lookups' connections where they hold any."""
        super().close()
        for lookup in (self.ownership, self.reads):
            close = getattr(lookup, "close", None)
            if callable(close):
                close()

    # -- who reads and who acts ---------------------------------------------------------

    def member_reads(self, member_id: uuid.UUID, license: License, today: date | None = None) -> bool:
        """Whether a member reads a license, its reports and its account: the member that granted
        it does, and so does every member that owns one of its assets today or owned one on any
        day of the term so far (a former co-owner keeps reading the deal it was paid from)."""
        if member_id == license.granted_by:
            return True
        today = today or self.clock.today()
        reads = self._reads()
        last = min(license.last_day or today, today)
        return any(
            member_id in reads.owners_during(asset_id, today, today)
            or member_id in reads.owners_during(asset_id, license.start_date, last)
            for asset_id in license.asset_ids
        )

    def _ensure_reads(self, principal: Principal, license: License) -> None:
        if may(principal, Permission.READ_EVERYTHING):  # no ownership asked: whoever owns the assets now
            return
        member = own_member(principal)
        if member is None or not self.member_reads(member, license):
            raise Forbidden("members read only licenses on assets they own", role=principal.role)

    def _ensure_submits_reports(self, principal: Principal, license: License, day: date) -> None:
        if not may(principal, Permission.KEEP_BOOKS):  # finance reports whoever owns the assets now
            ensure_submits_reports(principal, self._owners_of(license, day))

    def _reads(self) -> OwnershipRecord:
        if self.reads is None:
            raise DomainError("no ownership lookup is configured: cannot check ownership against the IP registry")
        return self.reads

    def _owners_by_asset(self, asset_ids: Iterable[uuid.UUID], day: date) -> dict[uuid.UUID, Owners]:
        if self.ownership is None:
            raise DomainError("no ownership lookup is configured: cannot check ownership against the IP registry")
        found: dict[uuid.UUID, Owners] = {}
        for asset_id in asset_ids:
            owners = dict(self.ownership.owners_as_of(asset_id, day))
            if not owners:
                raise NotFound("the IP registry knows no owners of this asset on that day", asset_id=str(asset_id))
            found[asset_id] = owners
        return found

    def _owners_of(self, license: License, day: date) -> set[uuid.UUID]:
        """Who may act on a license as an owner that day (nobody, for an asset without owners)."""
        if self.ownership is None:
            raise DomainError("no ownership lookup is configured: cannot check ownership against the IP registry")
        found: set[uuid.UUID] = set()
        for asset_id in license.asset_ids:
            with contextlib.suppress(NotFound):
                found.update(m for m, share in self.ownership.owners_as_of(asset_id, day).items() if share > 0)
        return found

    def _require_active(self, license: License) -> None:
        if license.status is not LicenseStatus.ACTIVE:
            raise Conflict(f"the license is {license.status}", license_id=str(license.id), status=license.status)

    # -- loading and saving -------------------------------------------------------------

    def _get(self, cls: type[A], aggregate_id: uuid.UUID) -> A:
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"no such {cls.__name__.lower()}", id=str(aggregate_id)) from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"no such {cls.__name__.lower()}", id=str(aggregate_id))
        return aggregate

    def _get_or_create(self, cls: type[A], aggregate_id: uuid.UUID, create: Any) -> A:
        try:
            return self._get(cls, aggregate_id)
        except NotFound:
            created: A = create()
            return created

    def _license(self, license_id: uuid.UUID) -> License:
        return self._get(License, license_id)

    def _account(self, deal_id: uuid.UUID, asset_ids: Sequence[uuid.UUID]) -> LicenseAccount:
        return self._get_or_create(
            LicenseAccount, LicenseAccount.create_id(deal_id), lambda: LicenseAccount(deal_id, list(asset_ids))
        )

    def _invoice_licensee(
        self, license: License, terms: RoyaltyTerms, kind: RevenueKind, amount: Money, day: date, reference: str
    ) -> tuple[LicenseAccount, uuid.UUID]:
        """An invoice on the license's account, due and split over its assets as the terms say."""
        account = self._account(license.id, license.asset_ids)
        return account, account.issue_invoice(kind, amount, day, terms.payment_days, reference, terms.asset_split_bps)

    def _existing_account(self, deal_id: uuid.UUID) -> LicenseAccount:
        try:
            return self._get(LicenseAccount, LicenseAccount.create_id(deal_id))
        except NotFound:
            raise NotFound(
                "no account: the license is not granted or the assignment not agreed", id=str(deal_id)
            ) from None

    def _save(self, ctx: CommandContext, *aggregates: Aggregate) -> None:
        # A version clash (IntegrityError) goes up: the HTTP layer runs the command again.
        self.record(ctx, *aggregates)
