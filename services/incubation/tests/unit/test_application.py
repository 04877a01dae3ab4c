"""Use cases over every event store (in memory and PostgreSQL): roles, flows, and the wire format."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from incubation.application import IncubationApplication
from incubation.catalog import build_catalog
from incubation.domain.references import KnownLicense, UnknownReference
from incubation.domain.seed_project import Commitment, MilestonePlan
from incubation.domain.spin_off import ExerciseWindow
from incubation.domain.vesting import VestingTerms
from incubation.entrypoints.grpc import cap_table_message, seed_project_message
from incubation.entrypoints.schemas import CapTableOut
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext
from ipshare_contracts.incubation.v1 import service_pb2 as incubation_service
from ipshare_devtools.testing.typed_twins import twin_disagreements
from ipshare_kernel.clock import FixedClock
from ipshare_kernel.errors import Conflict, DomainError, Forbidden, NotFound
from ipshare_kernel.money import Money

from .conftest import StaticDirectory

TODAY = date(2025, 6, 1)
INCUBATOR = CommandContext(Principal(Role.INCUBATOR, "manager"))
FINANCE = CommandContext(Principal(Role.FINANCE, "finance"))
AUDITOR = CommandContext(Principal(Role.AUDITOR, "auditor"))
UNI, CORP = uuid.UUID(int=11), uuid.UUID(int=12)
ALICE = uuid.UUID(int=21)
ASSET = uuid.UUID(int=31)
PRICED: dict[str, Any] = {"exercise_price": Money(150, "CNY"), "window": ExerciseWindow(3, "months")}


def as_member(member_id: uuid.UUID, subject: str | None = None) -> CommandContext:
    return CommandContext(Principal(Role.MEMBER, subject or str(member_id), member_id))


@pytest.fixture
def directory() -> StaticDirectory:
    known = StaticDirectory()
    known.add_member(str(UNI), "Huaxia University")
    known.add_member(str(CORP), "Precision Turbines", state_established=False)
    known.add_researcher(str(ALICE), "Li Wei")
    known.add_asset(str(ASSET), {str(UNI): 10_000}, since=date(2024, 6, 1))
    return known


@pytest.fixture
def app(event_store_env: dict[str, str], directory: StaticDirectory) -> Iterator[IncubationApplication]:
    application = IncubationApplication(env=event_store_env, directory=directory, clock=FixedClock.on(TODAY))
    yield application
    application.close()


def found(app: IncubationApplication) -> uuid.UUID:
    spin_off_id = app.found_spin_off(
        INCUBATOR, name="Laser Co", asset_ids=[ASSET], founded_via="capital_contribution",
        share_classes={"common": 1_000_000}, effective_date=date(2025, 1, 1),
    )  # fmt: skip
    app.contribute_ip(
        INCUBATOR, spin_off_id, member_id=UNI, asset_ids=[ASSET], valuation=Money(3_000_000_00, "CNY"),
        share_class="common", shares=600_000, rewards={ALICE: 300_000}, effective_date=date(2025, 1, 2),
    )  # fmt: skip
    return spin_off_id


def test_a_spin_off_is_founded_funded_and_read_back_from_the_store(app: IncubationApplication) -> None:
    spin_off_id = found(app)
    app.move_shares(INCUBATOR, spin_off_id, kind="issuance", share_class="common", quantity=400_000,
                    holder=("investor", "fund"), effective_date=date(2025, 2, 1))  # fmt: skip
    spin_off = app.get_spin_off(AUDITOR, spin_off_id)
    (contribution,) = spin_off.contributions.values()
    assert (contribution.reward_bps, contribution.state_established) == (5000, True)
    assert spin_off.holdings(date(2025, 2, 1)) == {
        (("member", str(UNI)), "common"): 300_000,
        (("researcher", str(ALICE)), "common"): 300_000,
        (("investor", "fund"), "common"): 400_000,
    }
    assert [s.id for s in app.list_spin_offs(as_member(UNI))] == [spin_off_id]
    assert app.list_spin_offs(as_member(CORP)) == []


def test_roles_guard_every_change(app: IncubationApplication) -> None:
    spin_off_id = found(app)
    with pytest.raises(Forbidden):
        app.found_spin_off(as_member(UNI), name="x", asset_ids=[ASSET], founded_via="capital_contribution",
                           share_classes={"common": 1})  # fmt: skip
    with pytest.raises(Forbidden):
        app.distribute_proceeds(INCUBATOR, spin_off_id, kind="dividend", record_date=TODAY,
                                amount=Money(100, "CNY"))  # fmt: skip
    with pytest.raises(Forbidden):
        app.get_spin_off(as_member(CORP), spin_off_id)
    with pytest.raises(NotFound):
        app.get_spin_off(AUDITOR, uuid.uuid4())


def test_a_researcher_reads_only_its_own_grants(app: IncubationApplication, directory: StaticDirectory) -> None:
    spin_off_id = found(app)
    plan = app.create_plan(INCUBATOR, spin_off_id, name="ESOP", share_class="common", pool_size=100_000)
    terms = VestingTerms(start=date(2025, 1, 1))
    mine = app.grant_options(INCUBATOR, spin_off_id, plan_id=plan, researcher_id=ALICE, quantity=4800,
                             terms=terms, expires_on=date(2035, 1, 1), **PRICED)  # fmt: skip
    bob = uuid.uuid4()
    directory.add_researcher(str(bob), "Zhang Min")
    app.grant_options(INCUBATOR, spin_off_id, plan_id=plan, researcher_id=bob, quantity=100,
                      terms=terms, expires_on=date(2035, 1, 1), **PRICED)  # fmt: skip
    alice = as_member(CORP, subject=str(ALICE))  # her employer holds no shares
    assert [g.grant_id for g in app.grants(alice, spin_off_id)] == [mine.grant_id]
    assert len(app.grants(AUDITOR, spin_off_id)) == 2
    updated = app.exercise_options(INCUBATOR, spin_off_id, mine.grant_id, 1200, date(2026, 1, 1))
    assert updated.exercised == 1200


def test_seed_project_tranches_are_gated_and_released_by_finance(app: IncubationApplication) -> None:
    spin_off_id = found(app)
    project_id = app.open_seed_project(
        INCUBATOR, title="Prototype", spin_off_id=spin_off_id,
        commitments=[Commitment("member", str(UNI), Money(500_000, "CNY")),
                     Commitment("seed_fund", "center", Money(500_000, "CNY"))],
        milestones=[MilestonePlan("prototype works", date(2025, 5, 1), Money(400_000, "CNY")),
                    MilestonePlan("first customer", date(2025, 9, 1), Money(600_000, "CNY"))],
    )  # fmt: skip
    project = app.get_seed_project(as_member(UNI), project_id)
    first, second = project.milestones
    with pytest.raises(Conflict, match="prototype works"):
        app.release_tranche(FINANCE, project_id, first)
    app.submit_evidence(as_member(UNI), project_id, first, ["test report"])
    app.decide_milestone(INCUBATOR, project_id, first, approve=True)
    with pytest.raises(Forbidden):
        app.release_tranche(INCUBATOR, project_id, first)
    app.release_tranche(FINANCE, project_id, first)
    (row,) = app.board(AUDITOR)
    assert [m.milestone_id for m in row.achieved] == [first]
    assert [m.milestone_id for m in row.due] == [second]
    assert app.board(AUDITOR, date(2025, 9, 2))[0].overdue[0].milestone_id == second
    assert app.get_seed_project(AUDITOR, project_id).released == Money(400_000, "CNY")
    # as the gRPC service answers: each date and status typed beside its text
    reply = seed_project_message(app.get_seed_project(AUDITOR, project_id))
    assert [(m.milestone_state, m.released_day.year) for m in reply.milestones] == [
        (incubation_service.MILESTONE_STATE_APPROVED, 2025),
        (incubation_service.MILESTONE_STATE_OPEN, 0),
    ]
    cap_table = cap_table_message(app.get_spin_off(AUDITOR, spin_off_id), TODAY)
    assert twin_disagreements(reply) + twin_disagreements(cap_table) == []


def test_every_recorded_event_goes_on_the_wire(app: IncubationApplication) -> None:
    spin_off_id = found(app)
    plan = app.create_plan(INCUBATOR, spin_off_id, name="ESOP", share_class="common", pool_size=1000,
                           effective_date=date(2025, 1, 1))  # fmt: skip
    terms = VestingTerms(start=date(2025, 1, 1), milestones={"launch": 100}, acceleration="double")
    grant = app.grant_options(INCUBATOR, spin_off_id, plan_id=plan, researcher_id=ALICE, quantity=1000,
                              terms=terms, expires_on=date(2026, 1, 1), effective_date=date(2025, 1, 1),
                              **PRICED)  # fmt: skip
    app.achieve_vesting_milestone(INCUBATOR, spin_off_id, grant.grant_id, "launch", date(2025, 3, 1))
    app.exercise_options(INCUBATOR, spin_off_id, grant.grant_id, 100, date(2025, 3, 2))
    app.record_change_of_control(INCUBATOR, spin_off_id, date(2025, 4, 1))
    app.record_departure(INCUBATOR, spin_off_id, grant.grant_id, True, date(2025, 4, 2))
    app.expire_options(INCUBATOR, spin_off_id, grant.grant_id, date(2026, 1, 1))
    app.report_kpis(INCUBATOR, spin_off_id, period="2025-Q1", revenue=Money(1, "CNY"), headcount=5,
                    follow_on_funding=Money(0, "CNY"), patents_filed=1)  # fmt: skip
    app.distribute_proceeds(FINANCE, spin_off_id, kind="dividend", record_date=TODAY, amount=Money(999, "CNY"))
    catalog = build_catalog()
    seen = set()
    for notification in app.notifications_after(0, 1000):
        event, meta = app.metadata_mapper.decode(notification)
        envelope = catalog.envelope(notification.id, event, meta)
        seen.add(envelope.type)
        assert envelope.source == "incubation"
        # every date and choice typed beside its text, and saying what the text says
        assert twin_disagreements(catalog.payload(event)) + twin_disagreements(envelope) == []
    assert "ipshare.incubation.v1.ProceedsDistributed" in seen
    assert len(seen) == 13  # every spin-off event kind


def test_ids_of_the_other_services_are_checked_against_what_they_published(
    app: IncubationApplication, directory: StaticDirectory
) -> None:
    stranger = uuid.uuid4()
    with pytest.raises(UnknownReference, match=f"asset {stranger} is not known") as refused:
        app.found_spin_off(INCUBATOR, name="x", asset_ids=[stranger], founded_via="capital_contribution",
                           share_classes={"common": 10})  # fmt: skip
    assert refused.value.details == {"field": "asset_ids", "id": str(stranger), "source": "ip-registry"}
    with pytest.raises(UnknownReference, match="license") as refused:
        app.found_spin_off(INCUBATOR, name="x", asset_ids=[ASSET], founded_via="license", license_id=stranger,
                           share_classes={"common": 10})  # fmt: skip
    assert refused.value.details["source"] == "commercialization"
    licensed = uuid.uuid4()
    directory.licenses[str(licensed)] = KnownLicense(str(licensed), frozenset({str(uuid.uuid4())}), "Acme")
    with pytest.raises(DomainError, match="does not cover"):
        app.found_spin_off(INCUBATOR, name="x", asset_ids=[ASSET], founded_via="license", license_id=licensed,
                           share_classes={"common": 10})  # fmt: skip
    spin_off_id = found(app)
    with pytest.raises(UnknownReference, match="researcher"):
        app.move_shares(INCUBATOR, spin_off_id, kind="issuance", share_class="common", quantity=1,
                        holder=("researcher", str(stranger)))  # fmt: skip
    with pytest.raises(UnknownReference, match="member") as refused:
        app.move_shares(INCUBATOR, spin_off_id, kind="transfer", share_class="common", quantity=1,
                        holder=("member", str(UNI)), to=("member", str(stranger)))  # fmt: skip
    assert refused.value.details["field"] == "to"
    investor = ("investor", "any fund")  # investors are not registry members: not checked
    app.move_shares(INCUBATOR, spin_off_id, kind="issuance", share_class="common", quantity=1, holder=investor)
    with pytest.raises(UnknownReference, match="researcher"):
        app.contribute_ip(INCUBATOR, spin_off_id, member_id=UNI, asset_ids=[ASSET], valuation=Money(1, "CNY"),
                          share_class="common", shares=2, rewards={stranger: 1})  # fmt: skip
    with pytest.raises(UnknownReference, match="member"):
        app.open_seed_project(
            INCUBATOR, title="x", spin_off_id=spin_off_id,
            commitments=[Commitment("member", str(stranger), Money(1, "CNY"))],
            milestones=[MilestonePlan("m", date(2025, 9, 1), Money(1, "CNY"))],
        )  # fmt: skip
    plan = app.create_plan(INCUBATOR, spin_off_id, name="ESOP", share_class="common", pool_size=10)
    with pytest.raises(UnknownReference, match="researcher"):
        app.grant_options(INCUBATOR, spin_off_id, plan_id=plan, researcher_id=stranger, quantity=1,
                          terms=VestingTerms(start=TODAY), expires_on=date(2035, 1, 1), **PRICED)  # fmt: skip


def test_the_cap_table_and_the_ocf_export_name_people_and_the_reward_rule(app: IncubationApplication) -> None:
    spin_off_id = found(app)
    package = app.ocf_package(AUDITOR, spin_off_id)
    assert package["Manifest.ocf.json"]["generated_at"] == "2025-06-01T12:00:00+00:00"  # the application's clock
    names = {s["id"]: s["name"]["legal_name"] for s in package["stakeholders.ocf.json"]["items"]}
    assert names == {f"member-{UNI}": "Huaxia University", f"researcher-{ALICE}": "Li Wei"}
    table = CapTableOut.of(app.get_spin_off(AUDITOR, spin_off_id), TODAY)
    (contribution,) = table.contributions
    assert (contribution.reward_bps, contribution.member_state_established, contribution.own_rule_document) == (
        5000, True, "",
    )  # fmt: skip
    assert CapTableOut.of(app.get_spin_off(AUDITOR, spin_off_id), date(2025, 1, 1)).contributions == []
