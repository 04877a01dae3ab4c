"""Payouts from the inbox on the real PostgreSQL: exact splits, closes, rebuilds."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext
from ipshare_kernel.errors import Conflict, DomainError, Forbidden, NotFound
from ipshare_kernel.money import allocate
from revenue_share import application as application_module
from revenue_share.adapters.inbox import facts_after
from revenue_share.application import Payouts, RevenueShareApplication
from revenue_share.domain.facts import Step
from revenue_share.domain.policy import CenterPolicy, MemberPolicy, ResearcherBracket, SplitBracket
from revenue_share.domain.statements import statement_hash
from revenue_share.entrypoints.wiring import LedgerWarmup

from .conftest import ALICE, ASSET, BOB, FINANCE, INSTITUTE, RECEIPT, UNIVERSITY, learn, slice_events

pytestmark = pytest.mark.integration


def open_q4(application: RevenueShareApplication) -> None:
    application.open_period(FINANCE, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31))


async def close_q4(engine: AsyncEngine, application: RevenueShareApplication) -> str:
    """The slice's facts learned, 2026-Q4 opened and closed; returns the statements' hash."""
    await learn(engine, slice_events())
    open_q4(application)
    return await Payouts(application, engine).close(FINANCE, "2026-Q4")


async def test_default_policy_splits_the_receipt_exactly(
    engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    await learn(engine, slice_events())
    open_q4(application)
    payouts = Payouts(application, engine)

    statements = await payouts.provisional(FINANCE, "2026-Q4")

    paid = {(s.payee.kind.value, s.payee.id): sum(b.entitled for b in s.balances) for s in statements}
    assert sum(paid.values()) == RECEIPT
    # 60/40 between the owners; half of each owner's part to its own inventor (Alice is the university's,
    # Bob the institute's), the odd fen to the researcher.
    assert allocate(RECEIPT, {UNIVERSITY: 6000, INSTITUTE: 4000}) == {UNIVERSITY: 600_001, INSTITUTE: 400_000}
    assert (paid["researcher", ALICE], paid["member", UNIVERSITY]) == (300_001, 300_000)
    assert (paid["researcher", BOB], paid["member", INSTITUTE]) == (200_000, 200_000)
    [reconciliation] = await payouts.reconcile(FINANCE, "2026-Q4")
    assert (reconciliation.receipts, reconciliation.payouts, reconciliation.residual) == (RECEIPT, RECEIPT, 0)


async def test_a_close_issues_statements_that_a_rebuild_reproduces(
    engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    digest = await close_q4(engine, application)

    period = application.period("2026-Q4")
    assert period.closed_at is not None
    assert period.statement_hash == digest
    rebuilt = Payouts(application, engine)  # a restarted process: ledger from the inbox and the event store
    assert statement_hash(await rebuilt.statements(FINANCE, "2026-Q4")) == digest
    with pytest.raises(Conflict):
        await rebuilt.close(FINANCE, "2026-Q4")


async def test_a_restarted_process_reads_the_inbox_a_batch_at_a_time(
    engine: AsyncEngine, application: RevenueShareApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = await close_q4(engine, application)
    async with engine.connect() as conn:
        learned = len(await facts_after(conn, 0))
    assert learned > 4  # so that batches of two take several reads
    monkeypatch.setattr(application_module, "FEED_BATCH", 2)
    rebuilt = Payouts(application, engine)
    assert statement_hash(await rebuilt.statements(FINANCE, "2026-Q4")) == digest


async def test_members_see_only_their_own_statements(engine: AsyncEngine, application: RevenueShareApplication) -> None:
    await learn(engine, slice_events())
    open_q4(application)
    member = CommandContext(Principal(Role.MEMBER, "m", uuid.UUID(UNIVERSITY)))
    payouts = Payouts(application, engine)

    statements = await payouts.provisional(member, "2026-Q4")

    assert {(s.payee.kind.value, s.payee.id) for s in statements} == {("member", UNIVERSITY)}
    with pytest.raises(Forbidden):
        await payouts.close(member, "2026-Q4")
    with pytest.raises(Forbidden):
        await payouts.reconcile(member, "2026-Q4")


ADMIN = CommandContext(Principal(Role.ADMIN, "admin"))


def center_policy(version: str, researchers_bps: int, fee_bps: int = 0) -> Callable[[datetime], CenterPolicy]:
    """A version as an admin sets it: the service stamps the time it is recorded."""
    return lambda recorded_at: CenterPolicy(version, date(2026, 1, 1), recorded_at, fee_bps=fee_bps,
                                            researcher_brackets=(ResearcherBracket(0, researchers_bps),),
                                            set_by="admin")  # fmt: skip


async def test_an_admin_sets_a_policy_that_every_later_computation_uses(
    engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    await learn(engine, slice_events())
    open_q4(application)

    await Payouts(application, engine).set_policy(ADMIN, center_policy("center-v2", 6000, fee_bps=1000))

    restarted = Payouts(application, engine)  # the version comes back from the event store
    statements = await restarted.provisional(FINANCE, "2026-Q4")
    fee = sum(line.amount for s in statements for line in s.lines if line.step is Step.OPERATING_FEE)
    assert fee == 100_000  # 10% of 1,000,001 fen is 100,000.1: the tenth of a fen goes elsewhere
    assert {line.policy_version.split("+")[0] for s in statements for line in s.lines} == {"center-v2"}
    assert [p.version for p in await restarted.policies(FINANCE)] == ["center-v2"]


async def test_a_policy_below_the_statutory_floor_is_rejected_and_nothing_is_recorded(
    engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    await learn(engine, slice_events())  # UNIVERSITY is state-established
    payouts = Payouts(application, engine)

    with pytest.raises(DomainError, match="at least 50%"):
        await payouts.set_policy(ADMIN, center_policy("too-low", 3000))
    with pytest.raises(Forbidden):
        await payouts.set_policy(FINANCE, center_policy("not-an-admin", 6000))
    ghost = str(uuid.uuid4())
    with pytest.raises(NotFound):
        await payouts.set_policy(ADMIN, lambda now: MemberPolicy("ghost", ghost, date(2026, 1, 1), now,
                                                                 (SplitBracket(0, {"member": 10_000}),)))  # fmt: skip

    assert application.policies() == []


async def test_a_close_whose_outcome_breaks_the_statutory_floor_is_refused_and_nothing_is_recorded(
    engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    payouts = Payouts(application, engine)
    # Set before revenue-share learned of any state-established member: nothing to refuse it for.
    await payouts.set_policy(ADMIN, center_policy("low", 2000))
    await learn(engine, slice_events())  # then the state university is admitted and owns 60% of the asset
    open_q4(application)

    with pytest.raises(DomainError, match=f"member {UNIVERSITY} is a state-established university") as refused:
        await payouts.close(FINANCE, "2026-Q4")

    (shortfall,) = refused.value.details["shortfalls"]
    # Its part is 600,001 fen; 20% of it (120,000) reaches its researcher, at least 300,001 is due.
    assert (shortfall["asset_id"], shortfall["net_income"], shortfall["researchers"], shortfall["required"]) == (
        ASSET, 600_001, 120_000, 300_001)  # fmt: skip
    assert application.period("2026-Q4").closed_at is None
    # An admin gives the university's inventors enough of its own split; then the close goes through.
    await payouts.set_policy(ADMIN, lambda now: MemberPolicy("uni-1", UNIVERSITY, date(2026, 1, 1), now, (
        SplitBracket(0, {"inventors": 5000, "member": 5000}),)))  # fmt: skip
    await payouts.close(FINANCE, "2026-Q4")
    assert application.period("2026-Q4").closed_at is not None


async def test_statements_as_of_a_time_use_only_the_facts_recorded_by_then(
    engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    *registry_facts, receipt = slice_events()
    await learn(engine, registry_facts)
    before_the_receipt = datetime.now(UTC)
    await learn(engine, [receipt])
    open_q4(application)
    payouts = Payouts(application, engine)

    then = await payouts.statements_known_at(FINANCE, "2026-Q4", before_the_receipt)
    digest = await payouts.close(FINANCE, "2026-Q4")

    assert sum(b.entitled for s in then for b in s.balances) == 0
    assert statement_hash(await payouts.statements_known_at(FINANCE, "2026-Q4", datetime.now(UTC))) == digest


async def test_the_ledger_is_warmed_at_start_and_a_failed_warm_up_leaves_it_to_the_first_request(
    engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    digest = await close_q4(engine, application)
    restarted = Payouts(application, engine)
    unreachable = Payouts(application, create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none"))

    await LedgerWarmup(restarted).run()
    await LedgerWarmup(unreachable).run()  # logged, not raised

    assert (restarted.loaded, unreachable.loaded) == (True, False)
    assert statement_hash(await restarted.statements(FINANCE, "2026-Q4")) == digest


async def test_a_version_kept_though_refused_never_rewrites_a_closed_period_after_a_restart(
    engine: AsyncEngine, application: RevenueShareApplication
) -> None:
    digest = await close_q4(engine, application)
    closed_at = application.period("2026-Q4").closed_at
    assert closed_at is not None
    # What the route once left behind: stamped before the close, stored after it, answered with a 409.
    application.record_policy(ADMIN, center_policy("stamped-before-the-close", 6000, 1000)(closed_at - timedelta(1)))

    restarted = Payouts(application, engine)

    assert statement_hash(await restarted.statements(FINANCE, "2026-Q4")) == digest
    assert await restarted.policies(FINANCE) == []  # it was never in force
