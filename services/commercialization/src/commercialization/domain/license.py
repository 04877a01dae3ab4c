"""The License aggregate (draft -> pending consent -> active -> terminated | expired),
and the per-asset index of licenses that keeps the exclusivity check consistent.

Amendments are events with an effective date; nothing is edited in place.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event

from commercialization.domain.fields import normalize_codes
from commercialization.domain.scope import (
    ALL_FIELDS,
    WORLDWIDE,
    Footprint,
    LicenseType,
    normalize_field,
    normalize_territory,
    parse_license_type,
)
from commercialization.domain.terms import RoyaltyTerms
from ipshare_kernel.errors import Conflict, DomainError, Forbidden

Owners = Mapping[uuid.UUID, int]  # member id -> share in basis points
NAMESPACE = uuid.UUID("0b7d6c1e-3f0a-4b8e-9a57-6c2d1e4f8a90")


class LicenseStatus(StrEnum):
    DRAFT = "draft"
    PENDING_CONSENT = "pending_consent"
    ACTIVE = "active"
    REFUSED = "refused"
    TERMINATED = "terminated"
    EXPIRED = "expired"


class LicenseeKind(StrEnum):
    EXTERNAL = "external"
    SPIN_OFF = "spin_off"


def every_owner(owners_by_asset: Mapping[uuid.UUID, Owners]) -> list[uuid.UUID]:
    """Members whose consent an exclusive grant or an assignment needs: every co-owner of every asset."""
    return sorted({member for owners in owners_by_asset.values() for member in owners}, key=str)


def check_co_owner(member_id: uuid.UUID, owners_by_asset: Mapping[uuid.UUID, Owners]) -> None:
    not_owned = sorted(str(a) for a, owners in owners_by_asset.items() if member_id not in owners)
    if not_owned:
        raise Forbidden(
            "only a co-owner of every licensed asset may grant it", member_id=str(member_id), assets=not_owned
        )


def _recorded_without_codes(state: dict[str, Any]) -> None:
    """An event recorded before fields of use had codes: its free-text field alone names the field."""
    state["fields"] = []


def field_and_codes(field_of_use: str | None, codes: Sequence[str]) -> tuple[str, list[str]]:
    """The description and the normalized IPC/CPC codes of a field of use. A field other than
    all fields is named by codes; the description defaults to them."""
    normalized = list(normalize_codes(codes))
    if not normalized:
        description = normalize_field(field_of_use or ALL_FIELDS)
        if description != ALL_FIELDS:
            raise DomainError(
                "name the field of use by IPC/CPC codes in `fields` (e.g. H01M, or H01M 10/052); "
                "field_of_use is only its description",
                field_of_use=field_of_use,
            )
        return description, []
    description = " ".join((field_of_use or "").split()) or ", ".join(normalized)
    if description.lower() == ALL_FIELDS:
        raise DomainError("a field of use named by codes is not all fields", fields=normalized)
    return description, normalized


class License(Aggregate):
    class Drafted(Aggregate.Created):
        licensee: str
        licensee_kind: str
        spin_off_id: str
        asset_ids: list[uuid.UUID]
        license_type: str
        field_of_use: str
        territory: list[str]
        start_date: date
        end_date: date | None
        sublicensing_allowed: bool
        terms: dict[str, Any]
        cross_license_assets: list[str]
        granted_by: uuid.UUID
        effective_date: date
        fields: list[str]

        class_version = 2
        upcast_v1_v2 = staticmethod(_recorded_without_codes)

    class ConsentRequested(Aggregate.Event):
        required_consents: list[uuid.UUID]
        effective_date: date

    class ConsentGiven(Aggregate.Event):
        member_id: uuid.UUID
        effective_date: date

    class ConsentRefused(Aggregate.Event):
        member_id: uuid.UUID
        reason: str
        effective_date: date

    class Granted(Aggregate.Event):
        licensee: str
        asset_ids: list[uuid.UUID]
        license_type: str
        royalty_rate_bps: int
        effective_date: date
        granted_by: uuid.UUID
        licensee_kind: str
        field_of_use: str
        territory: list[str]
        start_date: date
        end_date: date | None
        sublicensing_allowed: bool
        cross_license: bool
        terms: dict[str, Any]
        fields: list[str]

        class_version = 2
        upcast_v1_v2 = staticmethod(_recorded_without_codes)

    class Amended(Aggregate.Event):
        effective_date: date
        end_date: date | None
        field_of_use: str
        territory: list[str]
        terms: dict[str, Any]
        note: str
        fields: list[str]

        class_version = 2
        upcast_v1_v2 = staticmethod(_recorded_without_codes)

    class AmendmentProposed(Aggregate.Event):
        """An amendment of an exclusive or sole license that waits for every co-owner's consent."""

        effective_date: date
        end_date: date | None
        field_of_use: str
        territory: list[str]
        terms: dict[str, Any]
        note: str
        proposed_by: uuid.UUID
        required_consents: list[uuid.UUID]
        fields: list[str]

        class_version = 2
        upcast_v1_v2 = staticmethod(_recorded_without_codes)

    class AmendmentConsentGiven(Aggregate.Event):
        member_id: uuid.UUID
        effective_date: date

    class AmendmentRefused(Aggregate.Event):
        member_id: uuid.UUID
        reason: str
        effective_date: date

    class MilestoneReported(Aggregate.Event):
        milestone: str
        reported_by: str
        effective_date: date

    class Terminated(Aggregate.Event):
        reason: str
        effective_date: date

    class Expired(Aggregate.Event):
        effective_date: date

    @event(Drafted)
    def __init__(
        self,
        licensee: str,
        licensee_kind: str,
        spin_off_id: str,
        asset_ids: list[uuid.UUID],
        license_type: str,
        field_of_use: str,
        territory: list[str],
        start_date: date,
        end_date: date | None,
        sublicensing_allowed: bool,
        terms: dict[str, Any],
        cross_license_assets: list[str],
        granted_by: uuid.UUID,
        effective_date: date,
        fields: list[str],
    ) -> None:
        self.licensee = licensee
        self.licensee_kind = LicenseeKind(licensee_kind)
        self.spin_off_id = spin_off_id
        self.asset_ids = list(asset_ids)
        self.license_type = LicenseType(license_type)
        self.field_of_use = field_of_use
        self.fields = tuple(fields)
        self.territory = frozenset(territory)
        self.start_date = start_date
        self.end_date = end_date
        self.sublicensing_allowed = sublicensing_allowed
        # Terms in force from each effective date, oldest first.
        self.terms_history: list[tuple[date, RoyaltyTerms]] = [(start_date, RoyaltyTerms.from_event_dict(terms))]
        self.cross_license_assets = list(cross_license_assets)
        self.granted_by = granted_by
        self.drafted_on = effective_date
        self.status = LicenseStatus.DRAFT
        self.required_consents: list[uuid.UUID] = []
        self.consents: set[uuid.UUID] = set()
        self.granted_on: date | None = None
        self.ended_on: date | None = None
        self.milestones_reported: dict[str, date] = {}
        self.amendments: list[date] = []
        # An amendment waiting for consent: its fields as `Amended` carries them, who must consent, who has.
        self.proposed_amendment: dict[str, Any] | None = None
        self.amendment_required: list[uuid.UUID] = []
        self.amendment_consents: set[uuid.UUID] = set()

    @classmethod
    def draft(
        cls,
        *,
        licensee: str,
        asset_ids: Sequence[uuid.UUID],
        license_type: str,
        start_date: date,
        terms: RoyaltyTerms,
        granted_by: uuid.UUID,
        effective_date: date,
        field_of_use: str | None = None,
        fields: Sequence[str] = (),
        territory: Sequence[str] = (WORLDWIDE,),
        end_date: date | None = None,
        sublicensing_allowed: bool = False,
        licensee_kind: str = LicenseeKind.EXTERNAL,
        spin_off_id: uuid.UUID | None = None,
        cross_license_assets: Sequence[str] = (),
    ) -> License:
        if not licensee.strip():
            raise DomainError("a license needs a licensee")
        if not asset_ids or len(set(asset_ids)) != len(asset_ids):
            raise DomainError("a license covers one or more distinct assets")
        kind = _parse_licensee_kind(licensee_kind)
        if (kind is LicenseeKind.SPIN_OFF) != (spin_off_id is not None):
            raise DomainError("a spin-off licensee is named by its spin-off id, an external one is not")
        _check_term(start_date, end_date)
        terms.validate([str(a) for a in asset_ids])
        if cross_license_assets and not terms.is_cashless:
            raise DomainError("a cross-license is recorded with no cash terms")
        description, codes = field_and_codes(field_of_use, fields)
        return cls(
            licensee=licensee.strip(),
            licensee_kind=kind.value,
            spin_off_id=str(spin_off_id or ""),
            asset_ids=list(asset_ids),
            license_type=parse_license_type(license_type).value,
            field_of_use=description,
            territory=sorted(normalize_territory(territory)),
            start_date=start_date,
            end_date=end_date,
            sublicensing_allowed=sublicensing_allowed,
            terms=terms.as_event_dict(),
            cross_license_assets=list(cross_license_assets),
            granted_by=granted_by,
            effective_date=effective_date,
            fields=codes,
        )

    # -- queries ----------------------------------------------------------------

    @property
    def terms(self) -> RoyaltyTerms:
        """The latest terms (amendments included)."""
        return self.terms_history[-1][1]

    def terms_on(self, day: date) -> RoyaltyTerms:
        """The terms in force on `day` (amendments apply from their effective date)."""
        in_force = self.terms_history[0][1]
        for since, terms in self.terms_history:
            if since <= day:
                in_force = terms
        return in_force

    @property
    def is_cross_license(self) -> bool:
        return bool(self.cross_license_assets)

    @property
    def last_day(self) -> date | None:
        """The last day the license runs: its end date, or the termination date if earlier."""
        if self.ended_on is not None and self.status is LicenseStatus.TERMINATED:
            return self.ended_on if self.end_date is None else min(self.ended_on, self.end_date)
        return self.end_date

    def footprint(self) -> Footprint:
        return self._footprint(self.field_of_use, self.fields, self.territory, self.last_day)

    def _footprint(
        self, field_of_use: str, fields: Sequence[str], territory: frozenset[str], end_date: date | None
    ) -> Footprint:
        return Footprint(
            license_id=self.id,
            license_type=self.license_type,
            asset_ids=frozenset(self.asset_ids),
            field_of_use=field_of_use,
            territory=territory,
            start_date=self.start_date,
            end_date=end_date,
            fields=tuple(fields),
        )

    @property
    def missing_consents(self) -> list[uuid.UUID]:
        return [m for m in self.required_consents if m not in self.consents]

    def licensed_on(self, day: date) -> bool:
        last = self.last_day
        return self.start_date <= day and (last is None or day <= last)

    # -- commands ---------------------------------------------------------------

    def submit(self, owners_by_asset: Mapping[uuid.UUID, Owners], effective_date: date) -> None:
        """Ask for consent (exclusive, sole) or grant at once (non-exclusive, by any co-owner)."""
        self._require(LicenseStatus.DRAFT, "submitted")
        check_co_owner(self.granted_by, owners_by_asset)
        if not self.license_type.needs_every_owner:
            self._grant(effective_date)
            return
        self._consent_requested(required_consents=every_owner(owners_by_asset), effective_date=effective_date)
        self.consent(self.granted_by, effective_date)  # proposing it is the granter's consent

    def consent(self, member_id: uuid.UUID, effective_date: date) -> None:
        self._require(LicenseStatus.PENDING_CONSENT, "consented to")
        if member_id not in self.required_consents:
            raise Forbidden("only a co-owner of the licensed assets consents", member_id=str(member_id))
        if member_id in self.consents:
            return  # consenting twice changes nothing
        self._consent_given(member_id=member_id, effective_date=effective_date)
        if not self.missing_consents:
            self._grant(effective_date)

    def refuse(self, member_id: uuid.UUID, reason: str, effective_date: date) -> None:
        self._require(LicenseStatus.PENDING_CONSENT, "refused")
        if member_id not in self.required_consents:
            raise Forbidden("only a co-owner of the licensed assets may refuse consent", member_id=str(member_id))
        self._consent_refused(member_id=member_id, reason=reason, effective_date=effective_date)

    def amend(
        self,
        effective_date: date,
        *,
        end_date: date | None,
        field_of_use: str | None,
        territory: Sequence[str] | None,
        terms: RoyaltyTerms,
        note: str = "",
        proposed_by: uuid.UUID | None = None,
        co_owners: Sequence[uuid.UUID] = (),
        fields: Sequence[str] | None = None,
    ) -> bool:
        """Amend from `effective_date`; True when in force now. An exclusive or sole license of
        several co-owners binds them all (Patent Law art. 14): the amendment then waits for
        every co-owner's consent, the proposer's included by proposing.

        `territory` None keeps the licensed one as it is (not checked again: a code withdrawn
        from ISO 3166-1 since the grant does not block amending the other terms); `field_of_use`
        and `fields` both None keep the field, and either given names it anew (by codes)."""
        self._require(LicenseStatus.ACTIVE, "amended")
        if effective_date < self.start_date:
            raise DomainError("an amendment cannot take effect before the term starts")
        _check_term(self.start_date, end_date)
        terms.validate([str(a) for a in self.asset_ids])
        if self.is_cross_license and not terms.is_cashless:
            raise DomainError("a cross-license is recorded with no cash terms")
        if field_of_use is None and fields is None:
            description, codes = self.field_of_use, list(self.fields)
        else:
            description, codes = field_and_codes(field_of_use, self.fields if fields is None else fields)
        amendment: dict[str, Any] = {
            "effective_date": effective_date,
            "end_date": end_date,
            "field_of_use": description,
            "fields": codes,
            "territory": sorted(self.territory if territory is None else normalize_territory(territory)),
            "terms": terms.as_event_dict(),
            "note": note,
        }
        if not self.license_type.needs_every_owner or len(set(co_owners)) < 2:
            self._amended(**amendment)
            return True
        if self.proposed_amendment is not None:
            raise Conflict("another amendment of this license awaits the co-owners' consent", license_id=str(self.id))
        if proposed_by is None or proposed_by not in co_owners:
            raise Forbidden("only a co-owner of the licensed assets proposes an amendment", member_id=str(proposed_by))
        required = sorted(set(co_owners), key=str)
        self._amendment_proposed(**amendment, proposed_by=proposed_by, required_consents=required)
        return self.consent_to_amendment(proposed_by, effective_date)

    def consent_to_amendment(self, member_id: uuid.UUID, effective_date: date) -> bool:
        """A co-owner consents to the amendment proposed; True when that was the last consent (in force now)."""
        proposal = self._proposal(member_id)
        if member_id not in self.amendment_consents:
            self._amendment_consent_given(member_id=member_id, effective_date=effective_date)
        if self.amendment_missing_consents:
            return False
        self._amended(**proposal)
        return True

    def refuse_amendment(self, member_id: uuid.UUID, reason: str, effective_date: date) -> None:
        """A co-owner refuses the amendment proposed: it is dropped, the license stays as it is."""
        self._proposal(member_id)
        self._amendment_refused(member_id=member_id, reason=reason, effective_date=effective_date)

    @property
    def amendment_missing_consents(self) -> list[uuid.UUID]:
        return [m for m in self.amendment_required if m not in self.amendment_consents]

    def proposed_footprint(self) -> Footprint | None:
        """The scope the amendment waiting for consent would give the license."""
        proposal = self.proposed_amendment
        if proposal is None:
            return None
        # Only an active license has a proposal: no termination cuts its end date.
        return self._footprint(
            proposal["field_of_use"], proposal["fields"], frozenset(proposal["territory"]), proposal["end_date"]
        )

    def _proposal(self, member_id: uuid.UUID) -> dict[str, Any]:
        self._require(LicenseStatus.ACTIVE, "amended")
        if self.proposed_amendment is None:
            raise Conflict("no amendment of this license awaits consent", license_id=str(self.id))
        if member_id not in self.amendment_required:
            raise Forbidden("only a co-owner of the licensed assets consents to an amendment", member_id=str(member_id))
        return self.proposed_amendment

    def report_milestone(self, milestone: str, reported_by: str, effective_date: date) -> None:
        self._require(LicenseStatus.ACTIVE, "sent milestone reports")
        self.terms_on(effective_date).milestone(milestone)  # raises if the terms name no such milestone
        if milestone in self.milestones_reported:
            raise Conflict("this milestone was already reported", milestone=milestone)
        self._milestone_reported(milestone=milestone, reported_by=reported_by, effective_date=effective_date)

    def terminate(self, reason: str, effective_date: date) -> None:
        self._require(LicenseStatus.ACTIVE, "terminated")
        if effective_date < self.start_date:
            raise DomainError("a license cannot end before its term starts")
        self._terminated(reason=reason, effective_date=effective_date)

    def expire(self, as_of: date) -> None:
        self._require(LicenseStatus.ACTIVE, "expired")
        if self.end_date is None or as_of <= self.end_date:
            raise Conflict("the term has not ended yet", end_date=str(self.end_date))
        self._expired(effective_date=self.end_date)

    def _require(self, status: LicenseStatus, doing: str) -> None:
        if self.status is not status:
            raise Conflict(f"a {self.status} license cannot be {doing}", license_id=str(self.id), status=self.status)

    def _grant(self, effective_date: date) -> None:
        terms = self.terms
        self._granted(
            licensee=self.licensee,
            asset_ids=list(self.asset_ids),
            license_type=self.license_type.value,
            royalty_rate_bps=terms.headline_rate_bps,
            effective_date=effective_date,
            granted_by=self.granted_by,
            licensee_kind=self.licensee_kind.value,
            field_of_use=self.field_of_use,
            territory=sorted(self.territory),
            start_date=self.start_date,
            end_date=self.end_date,
            sublicensing_allowed=self.sublicensing_allowed,
            cross_license=self.is_cross_license,
            terms=terms.as_event_dict(),
            fields=list(self.fields),
        )

    # -- events -----------------------------------------------------------------

    @event(ConsentRequested)
    def _consent_requested(self, required_consents: list[uuid.UUID], effective_date: date) -> None:
        self.required_consents = list(required_consents)
        self.status = LicenseStatus.PENDING_CONSENT

    @event(ConsentGiven)
    def _consent_given(self, member_id: uuid.UUID, effective_date: date) -> None:
        self.consents.add(member_id)

    @event(ConsentRefused)
    def _consent_refused(self, member_id: uuid.UUID, reason: str, effective_date: date) -> None:
        self.status = LicenseStatus.REFUSED
        self.ended_on = effective_date

    @event(Granted)
    def _granted(
        self,
        licensee: str,
        asset_ids: list[uuid.UUID],
        license_type: str,
        royalty_rate_bps: int,
        effective_date: date,
        granted_by: uuid.UUID,
        licensee_kind: str,
        field_of_use: str,
        territory: list[str],
        start_date: date,
        end_date: date | None,
        sublicensing_allowed: bool,
        cross_license: bool,
        terms: dict[str, Any],
        fields: list[str],
    ) -> None:
        self.status = LicenseStatus.ACTIVE
        self.granted_on = effective_date

    @event(Amended)
    def _amended(
        self,
        effective_date: date,
        end_date: date | None,
        field_of_use: str,
        territory: list[str],
        terms: dict[str, Any],
        note: str,
        fields: list[str],
    ) -> None:
        self.end_date = end_date
        self.field_of_use = field_of_use
        self.fields = tuple(fields)
        self.territory = frozenset(territory)
        self.terms_history.append((effective_date, RoyaltyTerms.from_event_dict(terms)))
        self.terms_history.sort(key=lambda pair: pair[0])
        self.amendments.append(effective_date)
        self._drop_proposal()  # an amendment in force is no longer waiting

    @event(AmendmentProposed)
    def _amendment_proposed(
        self,
        effective_date: date,
        end_date: date | None,
        field_of_use: str,
        territory: list[str],
        terms: dict[str, Any],
        note: str,
        proposed_by: uuid.UUID,
        required_consents: list[uuid.UUID],
        fields: list[str],
    ) -> None:
        self.proposed_amendment = {
            "effective_date": effective_date, "end_date": end_date, "field_of_use": field_of_use,
            "territory": list(territory), "terms": dict(terms), "note": note, "fields": list(fields),
        }  # fmt: skip
        self.amendment_required = list(required_consents)
        self.amendment_consents = set()

    @event(AmendmentConsentGiven)
    def _amendment_consent_given(self, member_id: uuid.UUID, effective_date: date) -> None:
        self.amendment_consents.add(member_id)

    @event(AmendmentRefused)
    def _amendment_refused(self, member_id: uuid.UUID, reason: str, effective_date: date) -> None:
        self._drop_proposal()

    def _drop_proposal(self) -> None:
        self.proposed_amendment = None
        self.amendment_required = []
        self.amendment_consents = set()

    @event(MilestoneReported)
    def _milestone_reported(self, milestone: str, reported_by: str, effective_date: date) -> None:
        self.milestones_reported[milestone] = effective_date

    @event(Terminated)
    def _terminated(self, reason: str, effective_date: date) -> None:
        self.status = LicenseStatus.TERMINATED
        self.ended_on = effective_date
        self._drop_proposal()  # nothing left to amend

    @event(Expired)
    def _expired(self, effective_date: date) -> None:
        self.status = LicenseStatus.EXPIRED
        self.ended_on = effective_date
        self._drop_proposal()


def _parse_licensee_kind(value: str) -> LicenseeKind:
    try:
        return LicenseeKind(value)
    except ValueError:
        raise DomainError(f"unknown licensee kind {value!r}", licensee_kind=value) from None


def _check_term(start_date: date, end_date: date | None) -> None:
    if end_date is not None and end_date < start_date:
        raise DomainError("the term ends before it starts", start_date=str(start_date), end_date=str(end_date))


class AssetLicenses(Aggregate):
    """Every pending or active license on one asset: the consistency boundary of the
    exclusivity check (two concurrent grants on an asset write the same stream, so
    the second one fails instead of both passing the check)."""

    class Started(Aggregate.Created):
        asset_id: uuid.UUID

    class Registered(Aggregate.Event):
        license_id: uuid.UUID
        license_type: str
        asset_ids: list[uuid.UUID]
        field_of_use: str
        territory: list[str]
        start_date: date
        end_date: date | None
        fields: list[str]

        class_version = 2
        upcast_v1_v2 = staticmethod(_recorded_without_codes)

    class Released(Aggregate.Event):
        license_id: uuid.UUID
        effective_date: date

    @staticmethod
    def create_id(asset_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"asset-licenses/{asset_id}")

    @event(Started)
    def __init__(self, asset_id: uuid.UUID) -> None:
        self.asset_id = asset_id
        self._footprints: dict[uuid.UUID, Footprint] = {}

    def footprints(self) -> list[Footprint]:
        return list(self._footprints.values())

    def license_ids(self) -> list[uuid.UUID]:
        return list(self._footprints)

    def register(self, footprint: Footprint) -> None:
        """Add a license, or replace its footprint after an amendment or a termination."""
        if self._footprints.get(footprint.license_id) == footprint:
            return
        self._registered(
            license_id=footprint.license_id,
            license_type=footprint.license_type.value,
            asset_ids=sorted(footprint.asset_ids, key=str),
            field_of_use=footprint.field_of_use,
            territory=sorted(footprint.territory),
            start_date=footprint.start_date,
            end_date=footprint.end_date,
            fields=list(footprint.fields),
        )

    def release(self, license_id: uuid.UUID, effective_date: date) -> None:
        if license_id in self._footprints:
            self._released(license_id=license_id, effective_date=effective_date)

    @event(Registered)
    def _registered(
        self,
        license_id: uuid.UUID,
        license_type: str,
        asset_ids: list[uuid.UUID],
        field_of_use: str,
        territory: list[str],
        start_date: date,
        end_date: date | None,
        fields: list[str],
    ) -> None:
        self._footprints[license_id] = Footprint(
            license_id,
            LicenseType(license_type),
            frozenset(asset_ids),
            field_of_use,
            frozenset(territory),
            start_date,
            end_date,
            tuple(fields),
        )

    @event(Released)
    def _released(self, license_id: uuid.UUID, effective_date: date) -> None:
        del self._footprints[license_id]
