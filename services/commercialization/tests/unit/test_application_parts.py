"""The application's parts compose into the one application the service runs."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import date

from commercialization.application import Assignments, Billing, CommercializationApplication, Licensing, Royalties
from commercialization.application.store import DealStore
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext

PARTS = (Licensing, Royalties, Billing, Assignments)
OWNER = uuid.UUID(int=1)


class Owners:
    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        return {OWNER: 10_000}


def test_no_two_parts_define_the_same_method() -> None:
    """One name in two parts would leave the composed application running only one of them."""
    names = Counter(name for part in PARTS for name in vars(part) if callable(getattr(part, name)))
    assert [name for name, count in names.items() if count > 1] == []


def test_every_part_opens_the_services_tables() -> None:
    """eventsourcing names the tables after the application: a part on its own writes to the same ones."""
    assert {part.name for part in (*PARTS, CommercializationApplication)} == {DealStore.name}
    assert DealStore.name == "CommercializationApplication"


def test_a_part_runs_on_its_own() -> None:
    licensing = Licensing({"PERSISTENCE_MODULE": "eventsourcing.popo"}, Owners())
    owner = CommandContext(Principal(Role.MEMBER, str(OWNER), OWNER))
    license_id = licensing.grant_license(owner, "Acme", [uuid.uuid4()], effective_date=date(2025, 1, 1))
    assert licensing.get_license(owner, license_id).licensee == "Acme"
    licensing.close()
