"""Licensing: licenses on co-owned assets from draft to grant, consent, amendment and end.

A license names its assets, its type, its scope (fields, territory, term) and its terms.
Granting checks the granting member co-owns every asset, exclusivity against the licenses
already on each asset (`AssetLicenses`, one per asset), and, for an exclusive or sole
license, waits for every co-owner's consent; once active, its account opens and invoices
the upfront fee.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import TypedDict

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic
from typing_extensions import Unpack

from commercialization.application.store import DealStore, money
from commercialization.domain.account import RevenueKind
from commercialization.domain.license import AssetLicenses, License, LicenseStatus, check_co_owner
from commercialization.domain.scope import WORLDWIDE, Footprint, find_conflict
from commercialization.domain.terms import RoyaltyTerms
from commercialization.permissions import acting_member, ensure_finance
from ipshare.auth import Principal
from ipshare.eventstore import CommandContext
from ipshare.permissions import Permission, may, own_member
from ipshare_kernel.errors import Conflict, Forbidden


class LicenseOptions(TypedDict, total=False):
    """Optional parts of a new license; `terms` wins over the flat `royalty_rate_bps` + `currency`."""

    currency: str
    terms: RoyaltyTerms
    field_of_use: str  # a description; the field is named by `fields`
    fields: Sequence[str]  # IPC/CPC codes; none: all fields
    territory: Sequence[str]
    start_date: date  # default: the effective date
    end_date: date | None  # default: open-ended
    sublicensing_allowed: bool
    licensee_kind: str  # external | spin_off
    spin_off_id: uuid.UUID | None
    cross_license_assets: Sequence[str]  # a cross-license: the counterparty's assets we receive, no cash
    granted_by: uuid.UUID | None  # the granting co-owner, when an admin acts on its behalf
    effective_date: date | None  # default: today


class Licensing(DealStore):
    """The license use cases; queries answer what the caller may read (`member_reads`)."""

    def draft_license(
        self,
        ctx: CommandContext,
        licensee: str,
        asset_ids: Sequence[uuid.UUID],
        license_type: str,
        royalty_rate_bps: int = 0,
        **options: Unpack[LicenseOptions],
    ) -> uuid.UUID:
        """A draft by a co-owner of every asset; other licenses are not checked until it is submitted."""
        license = self._new_license(ctx, licensee, asset_ids, license_type, royalty_rate_bps, options)
        check_co_owner(license.granted_by, self._owners_by_asset(license.asset_ids, license.drafted_on))
        self._save(ctx, license)
        return license.id

    def submit_license(
        self, ctx: CommandContext, license_id: uuid.UUID, effective_date: date | None = None
    ) -> LicenseStatus:
        """Non-exclusive: granted at once. Exclusive or sole: pending every co-owner's consent."""
        license = self._license(license_id)
        acting_member(ctx.principal, license.granted_by)
        self._save(ctx, *self._submit(license, effective_date or self.clock.today()))
        return license.status

    def grant_license(
        self,
        ctx: CommandContext,
        licensee: str,
        asset_ids: Sequence[uuid.UUID],
        license_type: str = "non_exclusive",
        royalty_rate_bps: int = 0,
        **options: Unpack[LicenseOptions],
    ) -> uuid.UUID:
        """Draft and submit in one transaction; returns the license id (see `status` for where it stands)."""
        license = self._new_license(ctx, licensee, asset_ids, license_type, royalty_rate_bps, options)
        self._save(ctx, *self._submit(license, license.drafted_on))
        return license.id

    def give_consent(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> LicenseStatus:
        license = self._license(license_id)
        day = effective_date or self.clock.today()
        license.consent(acting_member(ctx.principal, member_id), day)
        self._save(ctx, license, *self._on_granted(license, day))
        return license.status

    def refuse_consent(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        reason: str,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> None:
        license = self._license(license_id)
        day = effective_date or self.clock.today()
        license.refuse(acting_member(ctx.principal, member_id), reason, day)
        indexes = [self._index(a) for a in license.asset_ids]
        for index in indexes:
            index.release(license.id, day)
        self._save(ctx, license, *indexes)

    def amend_license(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        effective_date: date,
        *,
        end_date: date | None = None,
        open_ended: bool = False,
        field_of_use: str | None = None,
        territory: Sequence[str] | None = None,
        terms: RoyaltyTerms | None = None,
        note: str = "",
        member_id: uuid.UUID | None = None,
        fields: Sequence[str] | None = None,
    ) -> bool:
        """Amend from `effective_date`: what is not given stays as it is; True when in force now.
        Scope changes are checked for exclusivity like a new grant. An exclusive or sole license
        of several co-owners is amended once every one of them consents (`consent_to_amendment`)."""
        license = self._license(license_id)
        proposer, co_owners = self._ensure_owner_acts(ctx.principal, license, effective_date, member_id)
        in_force = license.amend(
            effective_date,
            end_date=None if open_ended else (end_date or license.end_date),
            field_of_use=field_of_use,
            fields=fields,
            territory=territory or None,
            terms=terms or license.terms,
            note=note,
            proposed_by=proposer,
            co_owners=sorted(co_owners, key=str),
        )
        self._save(ctx, license, *self._scope_checked(license, in_force))
        return in_force

    def consent_to_amendment(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> bool:
        """A co-owner consents to the amendment proposed; True when it is in force now."""
        license = self._license(license_id)
        day = effective_date or self.clock.today()
        in_force = license.consent_to_amendment(acting_member(ctx.principal, member_id), day)
        self._save(ctx, license, *self._scope_checked(license, in_force))
        return in_force

    def refuse_amendment(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        reason: str,
        member_id: uuid.UUID | None = None,
        effective_date: date | None = None,
    ) -> None:
        license = self._license(license_id)
        license.refuse_amendment(acting_member(ctx.principal, member_id), reason, effective_date or self.clock.today())
        self._save(ctx, license)

    def _scope_checked(self, license: License, in_force: bool) -> list[AssetLicenses]:
        """The per-asset indexes with the license's new scope once an amendment is in force; while
        one waits for consent, its scope is checked (so no co-owner consents to what cannot be)."""
        if not in_force:
            proposed = license.proposed_footprint()
            assert proposed is not None
            self._check_exclusivity(proposed)
            return []
        indexes = self._check_exclusivity(license.footprint())
        for index in indexes:
            index.register(license.footprint())
        return indexes

    def terminate_license(
        self,
        ctx: CommandContext,
        license_id: uuid.UUID,
        reason: str,
        effective_date: date | None = None,
        member_id: uuid.UUID | None = None,
    ) -> None:
        license = self._license(license_id)
        day = effective_date or self.clock.today()
        self._ensure_owner_acts(ctx.principal, license, day, member_id)
        license.terminate(reason, day)
        indexes = [self._index(a) for a in license.asset_ids]
        for index in indexes:
            index.register(license.footprint())  # the scope is free again after the termination date
        self._save(ctx, license, *indexes)

    def expire_license(self, ctx: CommandContext, license_id: uuid.UUID, as_of: date | None = None) -> None:
        """Record that the term ran out (the expiry worker, or finance): an active license
        whose end date lies before `as_of` (default today) expires as of its end date."""
        ensure_finance(ctx.principal)
        license = self._license(license_id)
        license.expire(as_of or self.clock.today())
        self._save(ctx, license)

    def license_terms_after(self, position: int, limit: int) -> list[tuple[int, uuid.UUID, date | None, bool]]:
        """(position, license id, end date, still running) of each grant, amendment, termination
        and expiry recorded after a log position, oldest first: what the expiry worker follows."""
        kinds = (License.Granted, License.Amended, License.Terminated, License.Expired)
        notifications = self.recorder.select_notifications(
            position, limit, topics=[get_topic(k) for k in kinds], inclusive_of_start=False
        )
        found = []
        for notification in notifications:
            change = self.mapper.to_domain_event(notification)
            if isinstance(change, License.Granted | License.Amended):
                found.append((notification.id, change.originator_id, change.end_date, True))
            else:
                found.append((notification.id, change.originator_id, None, False))
        return found

    def get_license(self, ctx: CommandContext, license_id: uuid.UUID) -> License:
        license = self._license(license_id)
        self._ensure_reads(ctx.principal, license)
        return license

    def licenses_on_asset(self, ctx: CommandContext, asset_id: uuid.UUID) -> list[License]:
        """Pending, active and ended licenses on an asset (refused ones are dropped); a member
        that ever owned the asset sees those it may read (`member_reads`)."""
        licenses = [self._license(i) for i in self._index(asset_id).license_ids()]
        if may(ctx.principal, Permission.READ_EVERYTHING):
            return licenses
        member = own_member(ctx.principal)
        if member is None or member not in self._owners_ever(asset_id):
            raise Forbidden("members read only licenses on assets they own", role=ctx.principal.role)
        return [license for license in licenses if self.member_reads(member, license)]

    def _new_license(
        self,
        ctx: CommandContext,
        licensee: str,
        asset_ids: Sequence[uuid.UUID],
        license_type: str,
        royalty_rate_bps: int,
        options: LicenseOptions,
    ) -> License:
        day = options.get("effective_date") or self.clock.today()
        terms = options.get("terms") or RoyaltyTerms.flat(options.get("currency", "CNY"), royalty_rate_bps)
        return License.draft(
            licensee=licensee,
            asset_ids=list(asset_ids),
            license_type=license_type,
            start_date=options.get("start_date") or day,
            end_date=options.get("end_date"),
            terms=terms,
            granted_by=acting_member(ctx.principal, options.get("granted_by")),
            effective_date=day,
            field_of_use=options.get("field_of_use"),
            fields=options.get("fields", ()),
            territory=options.get("territory", (WORLDWIDE,)),
            sublicensing_allowed=options.get("sublicensing_allowed", False),
            licensee_kind=options.get("licensee_kind", "external"),
            spin_off_id=options.get("spin_off_id"),
            cross_license_assets=options.get("cross_license_assets", ()),
        )

    def _submit(self, license: License, day: date) -> list[Aggregate]:
        """Check exclusivity against the per-asset indexes, submit, and register the license."""
        owners = self._owners_by_asset(license.asset_ids, day)
        indexes = self._check_exclusivity(license.footprint())
        license.submit(owners, day)
        for index in indexes:
            index.register(license.footprint())
        return [license, *indexes, *self._on_granted(license, day)]

    def _check_exclusivity(self, candidate: Footprint) -> list[AssetLicenses]:
        indexes = [self._index(a) for a in sorted(candidate.asset_ids, key=str)]
        existing = {f.license_id: f for index in indexes for f in index.footprints()}
        conflict = find_conflict(candidate, existing.values())
        if conflict is not None:
            raise Conflict(
                "the license overlaps an exclusive or sole license",
                conflicting_license_id=str(conflict.license_id),
                conflicting_license_type=conflict.license_type.value,
                overlap=conflict.overlap.describe(),
            )
        return indexes

    def _on_granted(self, license: License, day: date) -> list[Aggregate]:
        """Once active: open the account and invoice the upfront fee."""
        if license.status is not LicenseStatus.ACTIVE or license.granted_on != day:
            return []
        account = self._account(license.id, license.asset_ids)
        terms = license.terms
        if terms.upfront_fee > 0 and not account.has_reference("upfront"):
            account.issue_invoice(
                RevenueKind.UPFRONT,
                money(terms.upfront_fee, terms.currency),
                day,
                terms.payment_days,
                "upfront",
                terms.asset_split_bps,
            )
        return [account]

    def _ensure_owner_acts(
        self, principal: Principal, license: License, day: date, member_id: uuid.UUID | None
    ) -> tuple[uuid.UUID, set[uuid.UUID]]:
        """The acting member and every owner of the licensed assets that day; Forbidden unless one is the other."""
        member = acting_member(principal, member_id)
        owners = self._owners_of(license, day)
        if member not in owners:
            raise Forbidden("only a co-owner of the licensed assets changes the license", member_id=str(member))
        return member, owners

    def _owners_ever(self, asset_id: uuid.UUID) -> set[uuid.UUID]:
        return self._reads().owners_during(asset_id, date.min, date.max)

    def _index(self, asset_id: uuid.UUID) -> AssetLicenses:
        return self._get_or_create(AssetLicenses, AssetLicenses.create_id(asset_id), lambda: AssetLicenses(asset_id))
