"""The transfer dispatcher: carries out each requested ownership transfer in the IP registry.

Like the relay, it reads the notification log after the last position it finished
with, in log order. For each `OwnershipTransferRequested` it calls the registry
(idempotent by the request id) and records the answer on the assignment as
`OwnershipTransferCompleted` (also idempotent); only then does it store the new
position. A passing failure (the registry unreachable, this service's store) is
retried with exponential backoff, however long it takes: a request is never skipped.
A refusal (the registry judged the request: INVALID_ARGUMENT, FAILED_PRECONDITION,
NOT_FOUND, ALREADY_EXISTS) would get the same answer every time, so it is terminal:
it is recorded on the assignment as `OwnershipTransferRefused` with the registry's
reason, for finance to resolve, and the dispatcher goes on to the next request.
After a crash the last request is sent again, and both sides answer a repeat
without storing anything new. Run one dispatcher per service.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from commercialization.adapters.ip_registry_client import IpRegistryClient, TransferRefused
from commercialization.adapters.positions import SqlPositions
from commercialization.application import CommercializationApplication, OwnershipTransfers
from commercialization.domain.assignment import Assignment
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext
from ipshare.observability import log
from ipshare.runtime import Runtime

NAME = "ownership-transfers"
DISPATCHER = Principal(Role.SERVICE, NAME)


class Positions(Protocol):
    async def load(self) -> int: ...

    async def save(self, position: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Seconds to wait before retry number `attempt` (0-based): doubling from `first`, up to `cap`."""

    first: float = 0.5
    cap: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.first * 2.0 ** min(attempt, 32))


class TransferDispatcher:
    name = NAME

    def __init__(
        self,
        app: CommercializationApplication,
        registry: OwnershipTransfers,
        positions: Positions,
        *,
        backoff: Backoff = Backoff(),
        batch_size: int = 100,
        poll_seconds: float = 1.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.app, self.registry, self.positions = app, registry, positions
        self.backoff = backoff
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._sleep = sleep
        self._wake = asyncio.Event()
        self.position = 0

    def wake_threadsafe(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called from the thread that saved events: look now, not at the next poll."""
        loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self.position = await self.positions.load()
        log.info("transfer dispatcher started", position=self.position)
        while True:
            self._wake.clear()  # a save during this batch sets it again
            try:
                handled = await self.dispatch_once()
            except Exception:  # the log or the position store failed: the same batch again shortly
                log.exception("transfer dispatcher batch failed; retrying", position=self.position)
                await self._sleep(self.poll_seconds)
                continue
            if handled < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def dispatch_once(self) -> int:
        """Carry out the next batch of requests, each until done; returns how many there were."""
        batch = await asyncio.to_thread(self.app.transfer_requests_after, self.position, self.batch_size)
        for position, requested in batch:
            await self._deliver(requested)
            await self.positions.save(position)
            self.position = position
        return len(batch)

    async def _deliver(self, requested: Assignment.OwnershipTransferRequested) -> None:
        for attempt in itertools.count():
            try:
                refused = await asyncio.to_thread(self._transfer, requested)
            except Exception as exc:
                delay = self.backoff.delay(attempt)
                log.warning(
                    "ownership transfer failed; retrying", request_id=str(requested.request_id),
                    assignment_id=str(requested.originator_id), attempt=attempt + 1, retry_in=delay, error=str(exc),
                )  # fmt: skip
                await self._sleep(delay)
                continue
            if refused is not None:  # recorded for finance: a person has to act, the queue does not wait
                log.error(
                    "ownership transfer refused by the IP registry; recorded on the assignment",
                    request_id=str(requested.request_id), assignment_id=str(requested.originator_id),
                    grpc_status=refused.grpc_status, reason=refused.reason,
                )  # fmt: skip
            return

    def _transfer(self, requested: Assignment.OwnershipTransferRequested) -> TransferRefused | None:
        """Carry out one request and record the answer; the refusal, when the registry said no."""
        ctx = CommandContext(principal=DISPATCHER, correlation_id=str(requested.request_id))
        try:
            outcome = self.registry.transfer_ownership(requested)
        except TransferRefused as refused:
            self.app.refuse_ownership_transfer(
                ctx, requested.originator_id, requested.request_id, refused.grpc_status, refused.reason
            )
            return refused
        self.app.complete_ownership_transfer(ctx, requested.originator_id, outcome)
        return None


def transfer_dispatcher(runtime: Runtime[CommercializationApplication, Any]) -> TransferDispatcher:
    """The dispatcher of a running service: woken by every save, its position in the service's database."""
    settings = runtime.settings
    registry = IpRegistryClient(settings.ip_registry_grpc_address, settings, timeout=10)
    dispatcher = TransferDispatcher(runtime.app, registry, SqlPositions(runtime.engine, NAME))
    loop = asyncio.get_running_loop()
    runtime.app.on_recorded(lambda: dispatcher.wake_threadsafe(loop))
    return dispatcher
