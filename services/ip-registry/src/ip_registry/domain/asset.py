"""The IP asset aggregate: its particulars, lifecycle, inventors, costs and co-ownership.

Co-ownership is proposed at registration and counts only once every named co-owner
has confirmed (the registering member's confirmation is implicit). Each change of
confirmed ownership is an event carrying the full share map and its effective date,
so a consumer never needs to replay deltas.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any

from eventsourcing.domain import Aggregate, event

from ip_registry.domain.identifiers import check_application_number
from ip_registry.domain.lifecycle import TERMINAL, AssetStatus, check_transition, parse_status
from ip_registry.domain.ownership import (
    OwnershipPeriod,
    Shares,
    check_shares,
    ownership_as_of,
    shares_from_records,
    shares_to_records,
    transfer,
)
from ip_registry.domain.values import (
    AssetKind,
    Cost,
    CostKind,
    Inventor,
    StrategicReserve,
    check_inventors,
    inventors_to_records,
    parse_choice,
    parse_jurisdiction,
)
from ipshare_kernel.errors import AlreadyExists, Conflict, DomainError
from ipshare_kernel.money import Money

NAMESPACE = uuid.UUID("3c2b7e10-5a4f-4d6b-a1e9-8f0d2c7b6a51")
PATENT_KINDS = frozenset({AssetKind.INVENTION_PATENT, AssetKind.UTILITY_MODEL, AssetKind.DESIGN})


def asset_id_for(jurisdiction: str, application_number: str) -> uuid.UUID:
    """One asset per application: registering the same number twice clashes."""
    return uuid.uuid5(NAMESPACE, f"asset/{jurisdiction}/{application_number}")


@dataclass(slots=True)
class Proposal:
    """An ownership awaiting the named co-owners' confirmations."""

    shares: dict[uuid.UUID, int]
    proposed_by: uuid.UUID
    effective_date: date | None  # named; None: the day the last co-owner confirms
    confirmed: set[uuid.UUID] = field(default_factory=set)
    declined_by: uuid.UUID | None = None
    decline_reason: str = ""

    @property
    def awaiting(self) -> list[uuid.UUID]:
        return sorted((m for m in self.shares if m not in self.confirmed), key=str)


def _ordered(*dates: tuple[str, date | None]) -> None:
    """Dates given must not go backwards (disclosure <= filing <= publication <= grant <= expiry)."""
    known = [(name, d) for name, d in dates if d is not None]
    for (earlier_name, earlier), (later_name, later) in pairwise(known):
        if later < earlier:
            raise DomainError(
                f"{later_name} {later.isoformat()} is before {earlier_name} {earlier.isoformat()}",
                **{earlier_name: earlier.isoformat(), later_name: later.isoformat()},
            )


class Asset(Aggregate):
    class Registered(Aggregate.Created):
        title: str
        kind: str
        jurisdiction: str
        application_number: str
        registered_by: uuid.UUID
        inventors: list[dict[str, Any]]
        owners: list[dict[str, Any]]
        effective_date: date
        filing_date: date | None
        technology_field: str
        status: str
        publication_number: str
        grant_number: str
        disclosure_date: date | None
        publication_date: date | None
        grant_date: date | None
        expiry_date: date | None
        strategic_reserve: str
        ownership_effective_date: date | None
        confirmed_by: list[uuid.UUID]

    class OwnershipProposed(Aggregate.Event):
        proposed_by: uuid.UUID
        owners: list[dict[str, Any]]
        ownership_effective_date: date | None
        confirmed_by: list[uuid.UUID]
        effective_date: date

    class OwnershipConfirmed(Aggregate.Event):
        member_id: uuid.UUID
        effective_date: date

    class OwnershipDeclined(Aggregate.Event):
        member_id: uuid.UUID
        reason: str
        effective_date: date

    class OwnershipEffective(Aggregate.Event):
        owners: list[dict[str, Any]]
        effective_date: date

    class SharesTransferred(Aggregate.Event):
        from_member_id: uuid.UUID
        to_member_id: uuid.UUID
        share_bps: int
        owners: list[dict[str, Any]]
        backdated: bool
        request_id: str
        effective_date: date

    class OwnershipAssignedOut(Aggregate.Event):
        """Every owner assigned the asset to a buyer outside the membership: ownership ends."""

        assignee: str
        from_owners: list[dict[str, Any]]
        request_id: str
        effective_date: date

    class Filed(Aggregate.Event):
        application_number: str
        effective_date: date

    class Published(Aggregate.Event):
        publication_number: str
        effective_date: date

    class Granted(Aggregate.Event):
        grant_number: str
        expiry_date: date | None
        effective_date: date

    class Ended(Aggregate.Event):
        status: str
        reason: str
        effective_date: date

    class StrategicReserveTagged(Aggregate.Event):
        strategic_reserve: str
        effective_date: date

    class InventorsCorrected(Aggregate.Event):
        inventors: list[dict[str, Any]]
        reason: str
        effective_date: date

    class CostRecorded(Aggregate.Event):
        cost_id: uuid.UUID
        kind: str
        amount: dict[str, Any]
        paid_by: uuid.UUID
        note: str
        effective_date: date

    @staticmethod
    def create_id(*_: Any, jurisdiction: str, application_number: str, **__: Any) -> uuid.UUID:
        if application_number:
            return asset_id_for(jurisdiction, application_number)
        return uuid.uuid4()  # a disclosure or know-how has no number yet

    # ---- registration -------------------------------------------------------

    @event(Registered)
    def __init__(
        self,
        title: str,
        kind: str,
        jurisdiction: str,
        application_number: str,
        registered_by: uuid.UUID,
        inventors: list[dict[str, Any]],
        owners: list[dict[str, Any]],
        effective_date: date,
        filing_date: date | None,
        technology_field: str,
        status: str,
        publication_number: str,
        grant_number: str,
        disclosure_date: date | None,
        publication_date: date | None,
        grant_date: date | None,
        expiry_date: date | None,
        strategic_reserve: str,
        ownership_effective_date: date | None,
        confirmed_by: list[uuid.UUID],
    ) -> None:
        self.title = title
        self.kind = AssetKind(kind)
        self.jurisdiction = jurisdiction
        self.application_number = application_number
        self.registered_by = registered_by
        self.registered_on = effective_date
        self.technology_field = technology_field
        self.status = AssetStatus(status)
        self.publication_number = publication_number
        self.grant_number = grant_number
        self.disclosure_date = disclosure_date
        self.filing_date = filing_date
        self.publication_date = publication_date
        self.grant_date = grant_date
        self.expiry_date = expiry_date
        self.ended_on: date | None = None
        self.end_reason = ""
        self.strategic_reserve = StrategicReserve(strategic_reserve)
        self.inventors = [Inventor.from_record(r) for r in inventors]
        self.inventor_history: list[tuple[date, list[Inventor]]] = [(effective_date, list(self.inventors))]
        self.history: list[OwnershipPeriod] = []
        self.proposal: Proposal | None = Proposal(
            shares=shares_from_records(owners),
            proposed_by=registered_by,
            effective_date=ownership_effective_date,
            confirmed=set(confirmed_by),
        )
        self.costs: list[Cost] = []
        self.transfer_requests: set[str] = set()

    @classmethod
    def register(
        cls,
        *,
        title: str,
        kind: str,
        jurisdiction: str,
        registered_by: uuid.UUID,
        owners: Shares,
        inventors: Sequence[Inventor],
        effective_date: date,
        application_number: str = "",
        status: str = AssetStatus.DISCLOSED,
        technology_field: str = "",
        strategic_reserve: str = "",
        disclosure_date: date | None = None,
        filing_date: date | None = None,
        publication_number: str = "",
        publication_date: date | None = None,
        grant_number: str = "",
        grant_date: date | None = None,
        expiry_date: date | None = None,
        ownership_effective_date: date | None = None,
        confirmed_by: Sequence[uuid.UUID] = (),
    ) -> Asset:
        """Register an asset with a proposed ownership; it takes effect once all co-owners confirm.

        `confirmed_by` names co-owners whose confirmation is already on file (a bulk import
        of agreed ownership); the registering member always counts as confirmed.
        """
        if not title.strip():
            raise DomainError("an asset needs a title")
        asset_kind = parse_choice(AssetKind, kind, "asset kind")
        office = parse_jurisdiction(jurisdiction)
        state = parse_status(status)
        if state in TERMINAL:
            raise DomainError("register an asset in a live state, then record how it ended", status=state.value)
        shares = check_shares(owners)
        if registered_by not in shares:
            raise DomainError("the registering member must be one of the owners", registered_by=str(registered_by))
        unknown = sorted(str(m) for m in confirmed_by if m not in shares)
        if unknown:
            raise DomainError("only owners can confirm an ownership", members=unknown)
        number = _check_particulars(
            asset_kind, office, state, application_number, filing_date, publication_date, grant_date
        )
        _ordered(
            ("disclosure_date", disclosure_date),
            ("filing_date", filing_date),
            ("publication_date", publication_date),
            ("grant_date", grant_date),
            ("expiry_date", expiry_date),
        )
        asset = cls(
            title=title.strip(),
            kind=asset_kind.value,
            jurisdiction=office,
            application_number=number,
            registered_by=registered_by,
            inventors=inventors_to_records(check_inventors(inventors)),
            owners=shares_to_records(shares),
            effective_date=effective_date,
            filing_date=filing_date,
            technology_field=technology_field.strip(),
            status=state.value,
            publication_number=publication_number.strip(),
            grant_number=grant_number.strip(),
            disclosure_date=disclosure_date,
            publication_date=publication_date,
            grant_date=grant_date,
            expiry_date=expiry_date,
            strategic_reserve=parse_choice(StrategicReserve, strategic_reserve, "strategic reserve tag").value,
            ownership_effective_date=ownership_effective_date,
            confirmed_by=sorted({registered_by, *confirmed_by}, key=str),
        )
        asset._take_effect_if_confirmed(effective_date)
        return asset

    # ---- co-ownership -------------------------------------------------------

    def propose_ownership(
        self,
        proposed_by: uuid.UUID,
        owners: Shares,
        effective_date: date,
        ownership_effective_date: date | None = None,
    ) -> None:
        """After a decline, the registering member proposes a new ownership."""
        if self.history:
            raise Conflict("ownership is already effective: change it by transfers", state="effective")
        if self.proposal is not None and self.proposal.declined_by is None:
            raise Conflict("an ownership proposal is still awaiting confirmations", state="pending")
        if proposed_by != self.registered_by:
            raise Conflict("only the registering member proposes the ownership", registered_by=str(self.registered_by))
        shares = check_shares(owners)
        if proposed_by not in shares:
            raise DomainError("the proposing member must be one of the owners", proposed_by=str(proposed_by))
        self._ownership_proposed(
            proposed_by=proposed_by,
            owners=shares_to_records(shares),
            ownership_effective_date=ownership_effective_date,
            confirmed_by=[proposed_by],
            effective_date=effective_date,
        )
        self._take_effect_if_confirmed(effective_date)

    @event(OwnershipProposed)
    def _ownership_proposed(
        self,
        proposed_by: uuid.UUID,
        owners: list[dict[str, Any]],
        ownership_effective_date: date | None,
        confirmed_by: list[uuid.UUID],
        effective_date: date,
    ) -> None:
        self.proposal = Proposal(
            shares=shares_from_records(owners),
            proposed_by=proposed_by,
            effective_date=ownership_effective_date,
            confirmed=set(confirmed_by),
        )

    def _open_proposal(self, member_id: uuid.UUID) -> Proposal:
        proposal = self.proposal
        if proposal is None:
            raise Conflict("no ownership is awaiting confirmation", state="effective")
        if proposal.declined_by is not None:
            raise Conflict(
                f"the proposed ownership was declined by member {proposal.declined_by}",
                state="declined",
                declined_by=str(proposal.declined_by),
            )
        if member_id not in proposal.shares:
            raise Conflict("the member is not a named co-owner of this asset", member_id=str(member_id))
        if member_id in proposal.confirmed:
            raise Conflict("the member has already confirmed", member_id=str(member_id))
        return proposal

    def confirm_ownership(self, member_id: uuid.UUID, effective_date: date) -> None:
        self._open_proposal(member_id)
        self._ownership_confirmed(member_id=member_id, effective_date=effective_date)
        self._take_effect_if_confirmed(effective_date)

    @event(OwnershipConfirmed)
    def _ownership_confirmed(self, member_id: uuid.UUID, effective_date: date) -> None:
        assert self.proposal is not None
        self.proposal.confirmed.add(member_id)

    def decline_ownership(self, member_id: uuid.UUID, reason: str, effective_date: date) -> None:
        self._open_proposal(member_id)
        if not reason.strip():
            raise DomainError("declining a co-ownership needs a reason")
        self._ownership_declined(member_id=member_id, reason=reason.strip(), effective_date=effective_date)

    @event(OwnershipDeclined)
    def _ownership_declined(self, member_id: uuid.UUID, reason: str, effective_date: date) -> None:
        assert self.proposal is not None
        self.proposal.declined_by = member_id
        self.proposal.decline_reason = reason

    def _take_effect_if_confirmed(self, today: date) -> None:
        proposal = self.proposal
        if proposal is not None and not proposal.awaiting:
            self._ownership_effective(
                owners=shares_to_records(proposal.shares), effective_date=proposal.effective_date or today
            )

    @event(OwnershipEffective)
    def _ownership_effective(self, owners: list[dict[str, Any]], effective_date: date) -> None:
        self.history.append(OwnershipPeriod(effective_date, shares_from_records(owners), "registration"))
        self.proposal = None

    def transfer_shares(
        self,
        from_member: uuid.UUID,
        to_member: uuid.UUID,
        share_bps: int,
        effective_date: date,
        recorded_on: date,
        request_id: str = "",
    ) -> bool:
        """Assign shares; False (and no event) when `request_id` was already applied."""
        if request_id and request_id in self.transfer_requests:
            return False
        self._check_transfer_date(effective_date)
        self._transfer(from_member, to_member, share_bps, effective_date, recorded_on, request_id)
        return True

    def assign_all(self, to_member: uuid.UUID, effective_date: date, recorded_on: date, request_id: str = "") -> bool:
        """Every other owner assigns its whole share to `to_member` (one transfer event each)."""
        if request_id and request_id in self.transfer_requests:
            return False
        self._check_transfer_date(effective_date)
        sellers = sorted((m for m in self.history[-1].shares if m != to_member), key=str)
        if not sellers:
            raise Conflict("the member already owns the whole asset", member_id=str(to_member))
        for seller in sellers:
            held = self.history[-1].shares[seller]
            self._transfer(seller, to_member, held, effective_date, recorded_on, request_id)
        return True

    def assign_ownership(
        self,
        from_owners: Shares,
        to_member: uuid.UUID | None,
        assignee: str,
        effective_date: date,
        recorded_on: date,
        request_id: str,
    ) -> None:
        """An assignment the owners agreed elsewhere: to a member (every share moves to it), or to
        a buyer outside the membership (the members' ownership ends). `from_owners` must be the
        owners in force, since they are the ones who consented."""
        if request_id in self.transfer_requests:
            raise AlreadyExists("the request id was already used for another transfer", request_id=request_id)
        self._check_transfer_date(effective_date)
        agreed, current = dict(from_owners), self.history[-1].shares
        if agreed != current:
            raise Conflict(
                "the owners changed since the assignment was agreed",
                agreed=shares_to_records(agreed),
                current=shares_to_records(current),
            )
        if to_member is not None:
            self.assign_all(to_member, effective_date, recorded_on, request_id)
            return
        if not assignee.strip():
            raise DomainError("an assignment out of the membership names the assignee")
        self._assigned_out(
            assignee=assignee.strip(),
            from_owners=shares_to_records(current),
            request_id=request_id,
            effective_date=effective_date,
        )

    @event(OwnershipAssignedOut)
    def _assigned_out(
        self, assignee: str, from_owners: list[dict[str, Any]], request_id: str, effective_date: date
    ) -> None:
        self.history.append(OwnershipPeriod(effective_date, {}, "assignment"))
        self.transfer_requests.add(request_id)

    def _check_transfer_date(self, effective_date: date) -> None:
        if not self.history:
            raise Conflict("the asset has no effective ownership to transfer yet", state=self.ownership_state)
        if not self.history[-1].shares:
            raise Conflict("the asset was assigned out of the membership", state=self.ownership_state)
        last = self.history[-1].effective_from
        if effective_date < last:
            # Keeps the history a sequence by effective date: each event's map holds until the next one.
            raise Conflict(
                f"a transfer cannot take effect before the last ownership change on {last.isoformat()}",
                last_change=last.isoformat(),
            )

    def _transfer(
        self,
        from_member: uuid.UUID,
        to_member: uuid.UUID,
        share_bps: int,
        effective_date: date,
        recorded_on: date,
        request_id: str,
    ) -> None:
        shares = transfer(self.history[-1].shares, from_member, to_member, share_bps)
        self._shares_transferred(
            from_member_id=from_member,
            to_member_id=to_member,
            share_bps=share_bps,
            owners=shares_to_records(shares),
            backdated=effective_date < recorded_on,
            request_id=request_id,
            effective_date=effective_date,
        )

    @event(SharesTransferred)
    def _shares_transferred(
        self,
        from_member_id: uuid.UUID,
        to_member_id: uuid.UUID,
        share_bps: int,
        owners: list[dict[str, Any]],
        backdated: bool,
        request_id: str,
        effective_date: date,
    ) -> None:
        self.history.append(OwnershipPeriod(effective_date, shares_from_records(owners), "transfer"))
        if request_id:
            self.transfer_requests.add(request_id)

    # ---- lifecycle ----------------------------------------------------------

    def file(self, application_number: str, filing_date: date) -> None:
        check_transition(self.status, AssetStatus.FILED)
        number = _check_particulars(self.kind, self.jurisdiction, AssetStatus.FILED, application_number, filing_date)
        _ordered(("disclosure_date", self.disclosure_date), ("filing_date", filing_date))
        self._filed(application_number=number, effective_date=filing_date)

    @event(Filed)
    def _filed(self, application_number: str, effective_date: date) -> None:
        self.status = AssetStatus.FILED
        self.application_number = application_number
        self.filing_date = effective_date

    def publish(self, publication_number: str, publication_date: date) -> None:
        check_transition(self.status, AssetStatus.PUBLISHED)
        _ordered(("filing_date", self.filing_date), ("publication_date", publication_date))
        self._published(publication_number=publication_number.strip(), effective_date=publication_date)

    @event(Published)
    def _published(self, publication_number: str, effective_date: date) -> None:
        self.status = AssetStatus.PUBLISHED
        self.publication_number = publication_number
        self.publication_date = effective_date

    def grant(self, grant_number: str, grant_date: date, expiry_date: date | None = None) -> None:
        check_transition(self.status, AssetStatus.GRANTED)
        _ordered(
            ("filing_date", self.filing_date),
            ("publication_date", self.publication_date),
            ("grant_date", grant_date),
            ("expiry_date", expiry_date),
        )
        self._granted(grant_number=grant_number.strip(), expiry_date=expiry_date, effective_date=grant_date)

    @event(Granted)
    def _granted(self, grant_number: str, expiry_date: date | None, effective_date: date) -> None:
        self.status = AssetStatus.GRANTED
        self.grant_number = grant_number
        self.grant_date = effective_date
        self.expiry_date = expiry_date

    def end(self, status: str, reason: str, effective_date: date) -> None:
        """Lapsed, abandoned, expired or invalidated."""
        target = parse_status(status)
        if target not in TERMINAL:
            raise DomainError(f"{target.value} is not how an asset ends", status=target.value)
        check_transition(self.status, target)
        last = self.grant_date or self.publication_date or self.filing_date or self.disclosure_date
        _ordered(("last lifecycle date", last), ("end date", effective_date))
        self._ended(status=target.value, reason=reason.strip(), effective_date=effective_date)

    @event(Ended)
    def _ended(self, status: str, reason: str, effective_date: date) -> None:
        self.status = AssetStatus(status)
        self.end_reason = reason
        self.ended_on = effective_date

    def tag(self, strategic_reserve: str, effective_date: date) -> None:
        tag = parse_choice(StrategicReserve, strategic_reserve, "strategic reserve tag")
        if tag is self.strategic_reserve:
            raise Conflict("the asset already carries this tag", strategic_reserve=tag.value)
        self._tagged(strategic_reserve=tag.value, effective_date=effective_date)

    @event(StrategicReserveTagged)
    def _tagged(self, strategic_reserve: str, effective_date: date) -> None:
        self.strategic_reserve = StrategicReserve(strategic_reserve)

    # ---- inventors and costs ------------------------------------------------

    def correct_inventors(self, inventors: Sequence[Inventor], reason: str, effective_date: date) -> None:
        if not reason.strip():
            raise DomainError("a correction of the inventors needs a reason")
        checked = check_inventors(inventors)
        if sorted(checked, key=lambda i: str(i.researcher_id)) == sorted(
            self.inventors, key=lambda i: str(i.researcher_id)
        ):
            raise Conflict("the correction changes nothing")
        self._inventors_corrected(
            inventors=inventors_to_records(checked), reason=reason.strip(), effective_date=effective_date
        )

    @event(InventorsCorrected)
    def _inventors_corrected(self, inventors: list[dict[str, Any]], reason: str, effective_date: date) -> None:
        self.inventors = [Inventor.from_record(r) for r in inventors]
        self.inventor_history.append((effective_date, list(self.inventors)))

    def record_cost(
        self, cost_id: uuid.UUID, kind: str, amount: Money, paid_by: uuid.UUID, effective_date: date, note: str = ""
    ) -> None:
        if any(c.cost_id == cost_id for c in self.costs):
            raise Conflict("this cost is already recorded", cost_id=str(cost_id))
        if amount.amount <= 0:
            raise DomainError("a cost is a positive amount", amount=amount.amount)
        self._cost_recorded(
            cost_id=cost_id,
            kind=parse_choice(CostKind, kind, "cost kind").value,
            amount={"amount": amount.amount, "currency": amount.currency},
            paid_by=paid_by,
            note=note.strip(),
            effective_date=effective_date,
        )

    @event(CostRecorded)
    def _cost_recorded(
        self, cost_id: uuid.UUID, kind: str, amount: dict[str, Any], paid_by: uuid.UUID, note: str, effective_date: date
    ) -> None:
        money = Money(int(amount["amount"]), str(amount["currency"]))
        self.costs.append(Cost(cost_id, CostKind(kind), money, paid_by, effective_date, note))

    # ---- queries ------------------------------------------------------------

    def owners_as_of(self, day: date) -> dict[uuid.UUID, int]:
        """Confirmed shares on `day`; empty before ownership took effect."""
        return ownership_as_of(self.history, day)

    @property
    def owners(self) -> dict[uuid.UUID, int]:
        """The latest confirmed shares (whatever their effective date)."""
        return dict(self.history[-1].shares) if self.history else {}

    @property
    def ownership_state(self) -> str:
        if self.history:
            return "effective" if self.history[-1].shares else "assigned_out"
        assert self.proposal is not None
        return "declined" if self.proposal.declined_by is not None else "pending"

    def members_involved(self) -> set[uuid.UUID]:
        """Who may read the asset: current owners and those named in an open proposal."""
        named = set(self.proposal.shares) if self.proposal is not None else set()
        return set(self.owners) | named


def _check_particulars(
    kind: AssetKind,
    jurisdiction: str,
    status: AssetStatus,
    application_number: str,
    filing_date: date | None,
    publication_date: date | None = None,
    grant_date: date | None = None,
) -> str:
    """The normalized application number, after checking what the status requires."""
    if kind is AssetKind.KNOW_HOW:
        if status is not AssetStatus.DISCLOSED or application_number.strip():
            raise DomainError("know-how is kept secret: it is never filed", kind=kind.value)
        return ""
    if status is AssetStatus.DISCLOSED:
        if application_number.strip():
            raise DomainError("a disclosed asset has no application number yet: register it as filed")
        return ""
    if not application_number.strip():
        raise DomainError(f"a {status.value} asset needs its application number", status=status.value)
    if filing_date is None:
        raise DomainError(f"a {status.value} asset needs its filing date", status=status.value)
    if status is AssetStatus.PUBLISHED and publication_date is None:
        raise DomainError("a published asset needs its publication date")
    if status is AssetStatus.GRANTED and grant_date is None:
        raise DomainError("a granted asset needs its grant date")
    return check_application_number(jurisdiction, kind.value, application_number)
