"""The transfer dispatcher against a registry that fails a while: retried until done, done once, in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Mapping
from datetime import date

import pytest

from commercialization.adapters.ip_registry_client import RegistryUnavailable, TransferRefused
from commercialization.application import CommercializationApplication
from commercialization.domain.assignment import Assignment, AssignmentStatus, TransferOutcome
from commercialization.entrypoints.transfer_dispatcher import Backoff, TransferDispatcher
from ipshare.auth import Principal, Role
from ipshare.errors import Conflict, Forbidden
from ipshare.eventstore import CommandContext

SELLER, BUYER = uuid.uuid4(), uuid.uuid4()
D = date(2025, 3, 1)


class Owners:
    def __init__(self) -> None:
        self.by_asset: dict[uuid.UUID, dict[uuid.UUID, int]] = {}

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        return self.by_asset.get(asset_id, {})


class FlakyRegistry:
    """Fails the first `failures` calls, then carries out each request once and answers repeats alike."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or RegistryUnavailable("the IP registry did not answer")
        self.calls: list[uuid.UUID] = []
        self.carried_out: dict[uuid.UUID, TransferOutcome] = {}

    def transfer_ownership(self, requested: Assignment.OwnershipTransferRequested) -> TransferOutcome:
        self.calls.append(requested.request_id)
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        owners = {uuid.UUID(requested.assignee_member_id): 10_000} if requested.assignee_member_id else {}
        outcome = TransferOutcome(requested.request_id, owners, requested.effective_date)
        return self.carried_out.setdefault(requested.request_id, outcome)


class MemoryPositions:
    def __init__(self) -> None:
        self.position = 0
        self.saved: list[int] = []

    async def load(self) -> int:
        return self.position

    async def save(self, position: int) -> None:
        self.position = position
        self.saved.append(position)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def app() -> Iterator[CommercializationApplication]:
    application = CommercializationApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"}, Owners())
    yield application
    application.close()


def agreed_sale(app: CommercializationApplication, buyer: uuid.UUID | None = BUYER) -> uuid.UUID:
    asset_id = uuid.uuid4()
    assert isinstance(app.ownership, Owners)
    app.ownership.by_asset[asset_id] = {SELLER: 10_000}
    seller = CommandContext(Principal(Role.MEMBER, str(SELLER), SELLER))
    return app.propose_assignment(seller, asset_id, "Buyer", 1_000, "CNY", assignee_member_id=buyer, effective_date=D)


def dispatcher(
    app: CommercializationApplication, registry: FlakyRegistry, positions: MemoryPositions, sleeps: Sleeps
) -> TransferDispatcher:
    return TransferDispatcher(app, registry, positions, backoff=Backoff(first=0.5, cap=4.0), sleep=sleeps)


def completions(app: CommercializationApplication) -> list[Assignment.OwnershipTransferCompleted]:
    events = [app.mapper.to_domain_event(n) for n in app.notifications_after(0, 10_000)]
    return [e for e in events if isinstance(e, Assignment.OwnershipTransferCompleted)]


def finance() -> CommandContext:
    return CommandContext(Principal(Role.FINANCE, "fiona"))


async def test_a_failing_registry_is_retried_with_backoff_until_the_transfer_is_done(
    app: CommercializationApplication,
) -> None:
    sale = agreed_sale(app)
    registry, positions, sleeps = FlakyRegistry(failures=5), MemoryPositions(), Sleeps()

    assert await dispatcher(app, registry, positions, sleeps).dispatch_once() == 1

    request_id = app.get_assignment(finance(), sale).request_id
    assert registry.calls == [request_id] * 6
    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0, 4.0]  # doubling, capped
    assignment = app.get_assignment(finance(), sale)
    assert (assignment.status, assignment.transfer_completed_on) == (AssignmentStatus.TRANSFERRED, D)
    [completed] = completions(app)
    assert (completed.owners, completed.assigned_out) == ([{"member_id": str(BUYER), "share_bps": 10_000}], False)
    [(requested_at, _)] = app.transfer_requests_after(0, 10)
    assert positions.saved == [requested_at]


async def test_a_refusal_is_retried_too_never_skipped(app: CommercializationApplication) -> None:
    agreed_sale(app)
    refused = TransferRefused("the IP registry refused the transfer: the owners changed")
    registry, positions, sleeps = FlakyRegistry(failures=2, error=refused), MemoryPositions(), Sleeps()
    await dispatcher(app, registry, positions, sleeps).dispatch_once()
    assert (len(registry.calls), len(completions(app))) == (3, 1)


async def test_requests_go_in_log_order_and_a_stuck_one_holds_back_the_next(
    app: CommercializationApplication,
) -> None:
    first, second = agreed_sale(app), agreed_sale(app, buyer=None)
    registry, positions, sleeps = FlakyRegistry(failures=2), MemoryPositions(), Sleeps()
    await dispatcher(app, registry, positions, sleeps).dispatch_once()
    ids = [app.get_assignment(finance(), a).request_id for a in (first, second)]
    assert registry.calls == [ids[0], ids[0], ids[0], ids[1]]
    assert [c.assigned_out for c in completions(app)] == [False, True]


async def test_a_restart_resumes_after_the_stored_position_and_a_lost_one_repeats_harmlessly(
    app: CommercializationApplication,
) -> None:
    agreed_sale(app)
    registry, positions, sleeps = FlakyRegistry(), MemoryPositions(), Sleeps()
    await dispatcher(app, registry, positions, sleeps).dispatch_once()
    restarted = dispatcher(app, registry, positions, sleeps)
    restarted.position = await positions.load()
    assert await restarted.dispatch_once() == 0
    assert len(registry.calls) == 1

    forgetful = dispatcher(app, registry, MemoryPositions(), sleeps)  # crashed before storing its position
    assert await forgetful.dispatch_once() == 1
    assert (len(registry.calls), len(registry.carried_out), len(completions(app))) == (2, 1, 1)


async def test_the_running_dispatcher_is_woken_by_a_save(app: CommercializationApplication) -> None:
    registry, positions = FlakyRegistry(), MemoryPositions()
    running = TransferDispatcher(app, registry, positions, poll_seconds=30)
    loop = asyncio.get_running_loop()
    app.on_recorded(lambda: running.wake_threadsafe(loop))
    task = asyncio.create_task(running.run())
    try:
        await asyncio.sleep(0.05)
        sale = await asyncio.to_thread(agreed_sale, app)
        for _ in range(100):
            if app.get_assignment(finance(), sale).status is AssignmentStatus.TRANSFERRED:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
    assert app.get_assignment(finance(), sale).status is AssignmentStatus.TRANSFERRED


def test_only_the_dispatcher_records_the_answer_and_only_to_its_own_request(
    app: CommercializationApplication,
) -> None:
    sale = agreed_sale(app)
    request_id = app.get_assignment(finance(), sale).request_id
    service = CommandContext(Principal(Role.SERVICE, "ownership-transfers"))
    with pytest.raises(Forbidden):
        app.complete_ownership_transfer(finance(), sale, TransferOutcome(request_id, {BUYER: 10_000}, D))
    with pytest.raises(Conflict, match="another transfer request"):
        app.complete_ownership_transfer(service, sale, TransferOutcome(uuid.uuid4(), {BUYER: 10_000}, D))
    assert app.complete_ownership_transfer(service, sale, TransferOutcome(request_id, {BUYER: 10_000}, D))
    assert not app.complete_ownership_transfer(service, sale, TransferOutcome(request_id, {BUYER: 10_000}, D))
