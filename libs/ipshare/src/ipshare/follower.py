"""The one way a service runs a loop that follows its own notification log.

The relay, the audit chaining and commercialization's transfer dispatcher and licence expiry
each read the log after a position and act on what they find. They differ only in what one
step does; how they are woken, polled, retried and positioned is the same, and lives here:

- `RetryPolicy`: exponential backoff with jitter (tenacity), retried for as long as it takes;
- `Positions`: the last log position a named follower finished with, one table for all;
- `Follower`: runs one `Steps` (``start`` once, then ``step`` after every save and every poll).

Which process runs them is `ipshare.leadership`'s business: one replica at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import BigInteger, Column, MetaData, String, Table, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from ipshare.observability import FOLLOWER_RETRIES, log

T = TypeVar("T")

positions_metadata = MetaData()
follower_positions = Table(
    "follower_positions",
    positions_metadata,
    Column("name", String, primary_key=True),
    Column("position", BigInteger, nullable=False),
)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failing call until it succeeds: waits double from `first` up to `cap`, each plus up to
    `first` at random, so replicas and loops that failed together do not retry in step."""

    first: float = 0.5
    cap: float = 60.0
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep, compare=False)

    async def call(self, what: str, fn: Callable[[], Awaitable[T]], **context: object) -> T:
        def report(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            FOLLOWER_RETRIES.labels(what).inc()
            log.warning(f"{what} failed; retrying", attempt=state.attempt_number, retry_in=round(delay, 3),
                        error=repr(error), **context)  # fmt: skip

        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=self.first, max=self.cap, jitter=self.first),
            retry=retry_if_exception_type(Exception),  # not CancelledError: a stop is not a failure
            before_sleep=report,
            sleep=self.sleep,
            reraise=True,
        )

        async def attempt() -> T:  # tenacity awaits only what a coroutine function returns
            return await fn()

        return await retrying(attempt)


DEFAULT_RETRY = RetryPolicy()


class Positions:
    """The last log position each named follower finished with, in the service's database."""

    def __init__(self, engine: AsyncEngine, name: str, *, legacy: tuple[str, str, str] | None = None) -> None:
        self.engine, self.name = engine, name
        self.legacy = legacy  # (table, key column, key) where an earlier version kept this position

    async def load(self) -> int:
        async with self.engine.begin() as conn:
            stored = await conn.scalar(
                select(follower_positions.c.position).where(follower_positions.c.name == self.name)
            )
            if stored is None and self.legacy is not None:
                table, column, key = self.legacy
                if await conn.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}):
                    stored = await conn.scalar(
                        text(f'SELECT position FROM "{table}" WHERE "{column}" = :k'), {"k": key}
                    )
        return int(stored or 0)

    async def save(self, position: int) -> None:
        statement = insert(follower_positions).values(name=self.name, position=position)
        statement = statement.on_conflict_do_update(index_elements=["name"], set_={"position": position})
        async with self.engine.begin() as conn:
            await conn.execute(statement)


class Steps(Protocol):
    """What a follower does: read what it needs once, then one batch per step."""

    name: str

    async def start(self) -> None:
        """Load the position and any state (again after every election)."""

    async def step(self) -> bool:
        """Handle the next batch; True when more is waiting right away."""


class Follower:
    """Runs one `Steps`: woken by every save, polled every `poll_seconds`, each failure retried."""

    def __init__(self, steps: Steps, *, poll_seconds: float = 1.0, retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.steps = steps
        self.name = steps.name
        self.poll_seconds = poll_seconds
        self.retry = retry
        self._wake = asyncio.Event()

    def wake_threadsafe(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called from the thread that saved events: look now, not at the next poll."""
        loop.call_soon_threadsafe(self._wake.set)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        await self.retry.call(self.name, self.steps.start)
        log.info("follower started", follower=self.name)
        while True:
            self._wake.clear()  # a save during this step sets it again
            more = await self.retry.call(self.name, self.steps.step)
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
