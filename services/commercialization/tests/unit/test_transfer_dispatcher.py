"""The transfer dispatcher against a registry that fails a while: retried until done, done once, in order;
a refusal is recorded once, for finance, and the next request goes ahead."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Mapping
from datetime import date

import pytest

from commercialization.adapters.ip_registry_client import RegistryUnavailable, TransferRefused
from commercialization.application import CommercializationApplication
from commercialization.catalog import build_catalog
from commercialization.domain.assignment import Assignment, AssignmentStatus, TransferOutcome, TransferStatus
from commercialization.entrypoints.transfer_dispatcher import TransferDispatcher
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext
from ipshare.follower import RetryPolicy
from ipshare_contracts.commercialization.v1 import events_pb2 as pb
from ipshare_kernel.actor import Actor
from ipshare_kernel.errors import Conflict, Forbidden

SELLER, BUYER = uuid.uuid4(), uuid.uuid4()
D = date(2025, 3, 1)


class Owners:
    def __init__(self) -> None:
        self.by_asset: dict[uuid.UUID, dict[uuid.UUID, int]] = {}

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> Mapping[uuid.UUID, int]:
        return self.by_asset.get(asset_id, {})


class FlakyRegistry:
    """Fails the first `failures` calls (then raises `errors` in turn, if given), then carries out
    each request once and answers repeats alike."""

    def __init__(self, failures: int = 0, error: Exception | None = None, errors: tuple[Exception, ...] = ()) -> None:
        error = error or RegistryUnavailable("the IP registry did not answer")
        self.errors = [error] * failures + list(errors)
        self.calls: list[uuid.UUID] = []
        self.on_behalf_of: list[Actor | None] = []
        self.carried_out: dict[uuid.UUID, TransferOutcome] = {}

    def transfer_ownership(
        self, requested: Assignment.OwnershipTransferRequested, caused_by: Actor | None = None
    ) -> TransferOutcome:
        self.calls.append(requested.request_id)
        self.on_behalf_of.append(caused_by)
        if self.errors:
            raise self.errors.pop(0)
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
    seller = CommandContext(Principal(Role.MEMBER, "oidc|zhao-min", SELLER, name="Zhao Min"))
    return app.propose_assignment(seller, asset_id, "Buyer", 1_000, "CNY", assignee_member_id=buyer, effective_date=D)


def dispatcher(
    app: CommercializationApplication, registry: FlakyRegistry, positions: MemoryPositions, sleeps: Sleeps
) -> TransferDispatcher:
    return TransferDispatcher(app, registry, positions, retry=RetryPolicy(first=0.5, cap=4.0, sleep=sleeps))


def backed_off(delays: list[float], retries: int, first: float = 0.5, cap: float = 4.0) -> bool:
    """Each wait doubles from `first` plus up to `first` of jitter, and none exceeds `cap`."""
    bounds = [(min(cap, first * 2**i), min(cap, first * 2**i + first)) for i in range(retries)]
    return len(delays) == retries and all(low <= d <= high for d, (low, high) in zip(delays, bounds, strict=True))


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
    assert backed_off(sleeps.delays, 5)  # doubling with jitter, capped
    assignment = app.get_assignment(finance(), sale)
    assert (assignment.status, assignment.transfer_completed_on) == (AssignmentStatus.TRANSFERRED, D)
    [completed] = completions(app)
    assert (completed.owners, completed.assigned_out) == ([{"member_id": str(BUYER), "share_bps": 10_000}], False)
    [(requested_at, _, _)] = app.transfer_requests_after(0, 10)
    assert positions.saved == [requested_at]


async def test_the_transfer_is_recorded_as_the_dispatchers_on_behalf_of_who_requested_it(
    app: CommercializationApplication,
) -> None:
    sale = agreed_sale(app)
    registry = FlakyRegistry()
    await dispatcher(app, registry, MemoryPositions(), Sleeps()).dispatch_once()

    seller = Actor("oidc|zhao-min", "member", "Zhao Min", str(SELLER))
    assert registry.on_behalf_of == [seller]
    completed = app.attribution(sale, app.get_assignment(finance(), sale).version)
    assert completed.actor == Actor("ownership-transfers", "service")
    assert completed.caused_by == seller


def refusal(reason: str = "the owners changed since the assignment was agreed") -> TransferRefused:
    """As the client raises it for a FAILED_PRECONDITION answer."""
    return TransferRefused(f"the IP registry refused the transfer: {reason}", grpc_status="FAILED_PRECONDITION",
                           reason=reason)  # fmt: skip


def refusals(app: CommercializationApplication) -> list[Assignment.OwnershipTransferRefused]:
    events = [app.mapper.to_domain_event(n) for n in app.notifications_after(0, 10_000)]
    return [e for e in events if isinstance(e, Assignment.OwnershipTransferRefused)]


async def test_a_refusal_is_recorded_once_not_retried_and_the_next_request_goes_ahead(
    app: CommercializationApplication,
) -> None:
    refused, next_one = agreed_sale(app), agreed_sale(app, buyer=None)
    registry, positions, sleeps = FlakyRegistry(errors=(refusal(),)), MemoryPositions(), Sleeps()

    assert await dispatcher(app, registry, positions, sleeps).dispatch_once() == 2

    ids = [app.get_assignment(finance(), a).request_id for a in (refused, next_one)]
    assert (registry.calls, sleeps.delays) == (ids, [])  # asked once, no backoff
    assignment = app.get_assignment(finance(), refused)
    assert (assignment.status, assignment.transfer_status) == (
        AssignmentStatus.TRANSFER_REFUSED,
        TransferStatus.REFUSED,
    )
    assert assignment.transfer_refusal == ("FAILED_PRECONDITION", "the owners changed since the assignment was agreed")
    assert assignment.transfer_refused_on == date.today()
    [recorded] = refusals(app)
    assert (recorded.request_id, recorded.code) == (ids[0], "FAILED_PRECONDITION")
    assert app.get_assignment(finance(), next_one).transfer_status is TransferStatus.COMPLETED
    assert positions.saved == [p for p, _, _ in app.transfer_requests_after(0, 10)]


async def test_a_passing_failure_still_backs_off_before_a_refusal_ends_it(app: CommercializationApplication) -> None:
    sale = agreed_sale(app)
    registry, positions, sleeps = (
        FlakyRegistry(failures=2, errors=(refusal("asset not found"),)),
        MemoryPositions(),
        Sleeps(),
    )
    await dispatcher(app, registry, positions, sleeps).dispatch_once()
    assert (len(registry.calls), backed_off(sleeps.delays, 2), len(completions(app))) == (3, True, 0)
    assert app.get_assignment(finance(), sale).transfer_refusal == ("FAILED_PRECONDITION", "asset not found")


async def test_a_refusal_sent_again_after_a_crash_records_nothing_new(app: CommercializationApplication) -> None:
    sale = agreed_sale(app)
    registry, sleeps = FlakyRegistry(errors=(refusal(), refusal())), Sleeps()
    await dispatcher(app, registry, MemoryPositions(), sleeps).dispatch_once()
    forgetful = dispatcher(app, registry, MemoryPositions(), sleeps)  # crashed before storing its position
    assert await forgetful.dispatch_once() == 1
    assert (len(registry.calls), len(refusals(app))) == (2, 1)
    service = CommandContext(Principal(Role.SERVICE, "ownership-transfers"))
    request_id = app.get_assignment(finance(), sale).request_id
    with pytest.raises(Conflict, match="transfer_refused"):  # no completion after a refusal
        app.complete_ownership_transfer(service, sale, TransferOutcome(request_id, {BUYER: 10_000}, D))
    with pytest.raises(Forbidden):
        app.refuse_ownership_transfer(finance(), sale, request_id, "NOT_FOUND", "gone")


def test_the_refusal_goes_on_the_bus_with_the_registry_reason(app: CommercializationApplication) -> None:
    sale = agreed_sale(app)
    service = CommandContext(Principal(Role.SERVICE, "ownership-transfers"))
    request_id = app.get_assignment(finance(), sale).request_id
    assert app.refuse_ownership_transfer(service, sale, request_id, "INVALID_ARGUMENT", "the buyer is no member")
    [event] = refusals(app)
    payload = build_catalog().payload(event)
    assert isinstance(payload, pb.OwnershipTransferRefused)
    assert (payload.request_id, payload.reason, payload.code) == (str(request_id), "the buyer is no member",
                                                                  "INVALID_ARGUMENT")  # fmt: skip
    assert payload.effective_date == date.today().isoformat()


def test_the_transfer_status_follows_the_assignment(app: CommercializationApplication) -> None:
    seller = CommandContext(Principal(Role.MEMBER, "oidc|zhao-min", SELLER, name="Zhao Min"))
    asset_id = uuid.uuid4()
    assert isinstance(app.ownership, Owners)
    app.ownership.by_asset[asset_id] = {SELLER: 6000, BUYER: 4000}
    sale = app.propose_assignment(seller, asset_id, "Buyer", 1_000, "CNY", effective_date=D)
    assert app.get_assignment(finance(), sale).transfer_status is TransferStatus.NOT_REQUESTED
    assert app.get_assignment(finance(), agreed_sale(app)).transfer_status is TransferStatus.PENDING


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
