"""Member organizations of the center, and the researchers affiliated with them."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event

from ip_registry.domain.identifiers import check_credit_code
from ipshare_kernel.errors import Conflict, DomainError

NAMESPACE = uuid.UUID("6f1d2a4e-93b8-4c0d-8e7a-1b5c9d3e2f40")


class MemberKind(StrEnum):
    ENTERPRISE = "enterprise"
    UNIVERSITY = "university"
    RESEARCH_INSTITUTE = "research_institute"
    OTHER = "other"


def parse_member_kind(kind: str) -> MemberKind:
    try:
        return MemberKind(kind)
    except ValueError:
        raise DomainError(f"unknown member kind {kind!r}", kind=kind, allowed=[k.value for k in MemberKind]) from None


def member_id_for(credit_code: str) -> uuid.UUID:
    """One member per credit code: the id is derived from it, so a second admission clashes."""
    return uuid.uuid5(NAMESPACE, f"member/{credit_code}")


def researcher_id_for(member_id: uuid.UUID, staff_number: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"researcher/{member_id}/{staff_number}")


class Member(Aggregate):
    class Admitted(Aggregate.Created):
        name: str
        kind: str
        state_established: bool
        credit_code: str
        effective_date: date

    class Suspended(Aggregate.Event):
        reason: str
        effective_date: date

    class Reinstated(Aggregate.Event):
        reason: str
        effective_date: date

    @staticmethod
    def create_id(*_: Any, credit_code: str, **__: Any) -> uuid.UUID:
        return member_id_for(credit_code)

    @event(Admitted)
    def __init__(self, name: str, kind: str, state_established: bool, credit_code: str, effective_date: date) -> None:
        self.name = name
        self.kind = MemberKind(kind)
        self.state_established = state_established
        self.credit_code = credit_code
        self.admitted_on = effective_date
        self.suspended = False
        self.suspended_on: date | None = None

    @classmethod
    def admit(cls, *, name: str, kind: str, state_established: bool, credit_code: str, effective_date: date) -> Member:
        if not name.strip():
            raise DomainError("a member needs a name")
        return cls(
            name=name.strip(),
            kind=parse_member_kind(kind).value,
            state_established=state_established,
            credit_code=check_credit_code(credit_code),
            effective_date=effective_date,
        )

    def suspend(self, reason: str, effective_date: date) -> None:
        if self.suspended:
            raise Conflict(f"member {self.name} is already suspended", state="suspended")
        if not reason.strip():
            raise DomainError("a suspension needs a reason")
        self._suspended(reason=reason.strip(), effective_date=effective_date)

    @event(Suspended)
    def _suspended(self, reason: str, effective_date: date) -> None:
        self.suspended = True
        self.suspended_on = effective_date

    def reinstate(self, reason: str, effective_date: date) -> None:
        if not self.suspended:
            raise Conflict(f"member {self.name} is not suspended", state="active")
        self._reinstated(reason=reason.strip(), effective_date=effective_date)

    @event(Reinstated)
    def _reinstated(self, reason: str, effective_date: date) -> None:
        self.suspended = False
        self.suspended_on = None

    @property
    def state(self) -> str:
        return "suspended" if self.suspended else "active"


class Researcher(Aggregate):
    """A person: an inventor and a reward recipient, affiliated with one member at a time."""

    class Registered(Aggregate.Created):
        name: str
        member_id: uuid.UUID
        effective_date: date
        staff_number: str

    class Affiliated(Aggregate.Event):
        member_id: uuid.UUID
        effective_date: date

    @staticmethod
    def create_id(*_: Any, member_id: uuid.UUID, staff_number: str, **__: Any) -> uuid.UUID:
        return researcher_id_for(member_id, staff_number) if staff_number else uuid.uuid4()

    @event(Registered)
    def __init__(self, name: str, member_id: uuid.UUID, effective_date: date, staff_number: str) -> None:
        self.name = name
        self.staff_number = staff_number
        # (from, member) pairs in order of their dates.
        self.affiliations: list[tuple[date, uuid.UUID]] = [(effective_date, member_id)]

    @classmethod
    def register(cls, *, name: str, member_id: uuid.UUID, effective_date: date, staff_number: str = "") -> Researcher:
        """`staff_number` (the member's own identifier of the person) makes the id deterministic."""
        if not name.strip():
            raise DomainError("a researcher needs a name")
        return cls(
            name=name.strip(), member_id=member_id, effective_date=effective_date, staff_number=staff_number.strip()
        )

    def affiliate(self, member_id: uuid.UUID, effective_date: date) -> None:
        since, current = self.affiliations[-1]
        if effective_date < since:
            raise Conflict(
                f"affiliation changes are recorded in date order; the last one is from {since.isoformat()}",
                last_change=since.isoformat(),
            )
        if member_id == current:
            raise Conflict("the researcher is already affiliated with this member", member_id=str(member_id))
        self._affiliated(member_id=member_id, effective_date=effective_date)

    @event(Affiliated)
    def _affiliated(self, member_id: uuid.UUID, effective_date: date) -> None:
        self.affiliations.append((effective_date, member_id))

    def affiliation_on(self, day: date) -> uuid.UUID | None:
        """The member the researcher belonged to on `day` (None before the first affiliation)."""
        current: uuid.UUID | None = None
        for since, member_id in self.affiliations:
            if since > day:
                break
            current = member_id
        return current

    @property
    def member_id(self) -> uuid.UUID:
        return self.affiliations[-1][1]
