"""The transfer dispatcher: carries out each requested ownership transfer in the IP registry.

Like the relay, it reads the notification log after the last position it finished
with, in log order. For each `OwnershipTransferRequested` it calls the registry
(idempotent by the request id) and records the answer on the assignment as
`OwnershipTransferCompleted` (also idempotent); only then does it store the new
position. A passing failure (the registry unreachable, this service's store) is
retried with the shared backoff (exponential, with jitter), however long it takes: a
request is never skipped.
A refusal (the registry judged the request: INVALID_ARGUMENT, FAILED_PRECONDITION,
NOT_FOUND, ALREADY_EXISTS) would get the same answer every time, so it is terminal:
it is recorded on the assignment as `OwnershipTransferRefused` with the registry's
reason, for finance to resolve, and the dispatcher goes on to the next request.
After a crash the last request is sent again, and both sides answer a repeat
without storing anything new. It is a `Follower`: the elected leader among the service's
replicas runs it, woken by every save and polled every second.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from commercialization.adapters.ip_registry_client import IpRegistryClient, TransferRefused
from commercialization.application import CommercializationApplication
from commercialization.application.assignments import Assignments, OwnershipTransfers, RequestedTransfer
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext
from ipshare.follower import DEFAULT_RETRY, Follower, Positions, RetryPolicy
from ipshare.observability import log
from ipshare.runtime import Runtime

NAME = "ownership-transfers"
DISPATCHER = Principal(Role.SERVICE, NAME)


class PositionStore(Protocol):
    async def load(self) -> int: ...

    async def save(self, position: int) -> None: ...


class TransferDispatcher:
    """The steps of the dispatcher's `Follower`."""

    name = NAME

    def __init__(
        self,
        app: Assignments,
        registry: OwnershipTransfers,
        positions: PositionStore,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        batch_size: int = 100,
        poll_seconds: float = 1.0,
    ) -> None:
        self.app, self.registry, self.positions = app, registry, positions
        self.retry = retry
        self.batch_size = batch_size
        self.follower = Follower(self, poll_seconds=poll_seconds, retry=retry)
        self.position = 0

    def wake_threadsafe(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called from the thread that saved events: look now, not at the next poll."""
        self.follower.wake_threadsafe(loop)

    async def run(self) -> None:
        await self.follower.run()

    async def start(self) -> None:
        self.position = await self.positions.load()
        log.info("transfer dispatcher started", position=self.position)

    async def step(self) -> bool:
        return await self.dispatch_once() >= self.batch_size

    async def dispatch_once(self) -> int:
        """Carry out the next batch of requests, each until done; returns how many there were."""
        batch = await asyncio.to_thread(self.app.transfer_requests_after, self.position, self.batch_size)
        for request in batch:
            await self._deliver(request)
            await self.positions.save(request.position)
            self.position = request.position
        return len(batch)

    async def _deliver(self, request: RequestedTransfer) -> None:
        requested = request.event
        refused = await self.retry.call(
            "ownership transfer", lambda: asyncio.to_thread(self._transfer, request),
            request_id=str(requested.request_id), assignment_id=str(requested.originator_id),
        )  # fmt: skip
        if refused is not None:  # recorded for finance: a person has to act, the queue does not wait
            log.error(
                "ownership transfer refused by the IP registry; recorded on the assignment",
                request_id=str(requested.request_id), assignment_id=str(requested.originator_id),
                grpc_status=refused.grpc_status, reason=refused.reason,
            )  # fmt: skip

    def _transfer(self, request: RequestedTransfer) -> TransferRefused | None:
        """Carry out one request and record the answer, both as the dispatcher on behalf of whoever
        made the request; the refusal, when the registry said no."""
        requested = request.event
        ctx = CommandContext(DISPATCHER, correlation_id=str(requested.request_id), caused_by=request.requested_by)
        try:
            outcome = self.registry.transfer_ownership(requested, request.requested_by)
        except TransferRefused as refused:
            self.app.refuse_ownership_transfer(
                ctx, requested.originator_id, requested.request_id, refused.grpc_status, refused.reason
            )
            return refused
        self.app.complete_ownership_transfer(ctx, requested.originator_id, outcome)
        return None


def transfer_dispatcher(runtime: Runtime[CommercializationApplication, Any]) -> Follower:
    """The dispatcher of a running service (the runtime wakes it on every save), its position in the
    service's database (carried over from the table an earlier version kept it in)."""
    settings = runtime.settings
    registry = IpRegistryClient(settings.ip_registry_grpc_address, settings, timeout=10)
    positions = Positions(runtime.engine, NAME, legacy=("dispatch_positions", "name", NAME))
    return TransferDispatcher(runtime.app, registry, positions).follower
