"""Run a write again when another command saved the same aggregate version first.

Two commands that load the same aggregate version both decide, and the event store's key
on (aggregate id, version) lets only the first save; the other gets `IntegrityError` and
nothing of it is stored. Decided again on the new state it usually succeeds, or fails with
the business reason (say, the period it reports on is now closed). So the HTTP layer re-runs
such a request a few times, after a short random wait that doubles each time, before it
answers 409 `concurrent_update`: a client sees 409 only for real conflicts.

A request with `If-Match` is never re-run: the client asked to write only over the version
it read, and another writer got there first, so the answer is 412.
"""

from __future__ import annotations

import asyncio
import random

from eventsourcing.persistence import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ipshare.observability import WRITE_RETRIES
from ipshare_kernel.errors import ConcurrentUpdate, StaleVersion

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def backoff_seconds(attempt: int, first: float, cap: float) -> float:
    """Full jitter: a random wait up to `first` doubled `attempt` times, at most `cap`."""
    return random.uniform(0, min(cap, first * 2**attempt))


class RetryConcurrentWrites:
    """ASGI layer between the exception handlers and the router (see `ServiceAPI`)."""

    def __init__(self, app: ASGIApp, attempts: int, first_delay: float = 0.01, max_delay: float = 0.5) -> None:
        self.app, self.attempts, self.first_delay, self.max_delay = app, max(1, attempts), first_delay, max_delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if_match = any(name == b"if-match" for name, _ in scope["headers"])
        attempts = 1 if scope["method"] in _READS else self.attempts
        for attempt in range(attempts):
            try:
                await self.app(scope, _replaying(body, receive), send)
                return
            except IntegrityError:
                if if_match:
                    raise StaleVersion("another request changed the resource first; read it again") from None
                if attempt + 1 == attempts:
                    raise ConcurrentUpdate("the resource kept changing while this request ran; retry") from None
            WRITE_RETRIES.labels(scope["method"]).inc()
            await asyncio.sleep(backoff_seconds(attempt, self.first_delay, self.max_delay))


async def _read_body(receive: Receive) -> list[Message]:
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """The buffered body once, then the real channel (which tells of a disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
