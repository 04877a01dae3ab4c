"""Leader election on the real PostgreSQL: one leader at a time, a standby takes over when it goes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import pytest

from ipshare.leadership import Leadership

pytestmark = pytest.mark.integration


class Running:
    """Which contenders are running their loop right now, and the most that ever did at once."""

    def __init__(self) -> None:
        self.now: set[str] = set()
        self.most_at_once = 0

    def loop(self, who: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def run() -> None:
            self.now.add(who)
            self.most_at_once = max(self.most_at_once, len(self.now))
            try:
                await asyncio.Event().wait()
            finally:
                self.now.discard(who)

        return run


async def until(condition: Callable[[], object], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polls another task's state
            await asyncio.sleep(0.05)


async def terminate_the_lock_holders_connection(database_url: str, leadership: Leadership) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1::bigint "
            "& x'ffffffff'::bigint",
            leadership.key,
        )
    finally:
        await admin.close()


async def test_one_contender_leads_and_another_term_starts_when_its_connection_dies(fresh_database: str) -> None:
    running = Running()
    one, two = (Leadership(fresh_database, "svc", retry_seconds=0.2, check_seconds=0.2) for _ in range(2))
    tasks = [asyncio.create_task(c.lead([running.loop(name)])) for c, name in ((one, "one"), (two, "two"))]
    try:
        await until(lambda: running.now)
        await asyncio.sleep(1.0)  # the standby tried several times meanwhile
        assert len(running.now) == 1
        assert running.most_at_once == 1
        leader, standby = (one, two) if one.is_leader else (two, one)
        assert not standby.is_leader

        # The leader's connection dies while its process lives on: either contender may win the
        # next term (the old leader competes again at once), but never both at the same time.
        await terminate_the_lock_holders_connection(fresh_database, leader)
        await until(lambda: one.terms + two.terms == 2 and len(running.now) == 1)
        assert running.most_at_once == 1
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert running.now == set()


async def test_a_standby_takes_over_when_the_leaders_process_dies(fresh_database: str) -> None:
    running = Running()
    one, two = (Leadership(fresh_database, "svc", retry_seconds=0.2, check_seconds=0.2) for _ in range(2))
    tasks = {c: asyncio.create_task(c.lead([running.loop(name)])) for c, name in ((one, "one"), (two, "two"))}
    try:
        await until(lambda: running.now)
        leader, standby = (one, two) if one.is_leader else (two, one)
        # A killed process stops contending, and its connection dies with it.
        tasks[leader].cancel()
        await terminate_the_lock_holders_connection(fresh_database, leader)
        await until(lambda: standby.is_leader)
        await until(lambda: running.now == {"one" if standby is one else "two"})
        assert running.most_at_once == 1
    finally:
        for task in tasks.values():
            task.cancel()
        for task in tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert running.now == set()


async def test_a_stopped_leader_releases_the_lock_at_once(fresh_database: str) -> None:
    running = Running()
    first = Leadership(fresh_database, "svc", retry_seconds=0.2, check_seconds=0.2)
    task = asyncio.create_task(first.lead([running.loop("first")]))
    await until(lambda: first.is_leader)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    second = Leadership(fresh_database, "svc", retry_seconds=0.2, check_seconds=0.2)
    again = asyncio.create_task(second.lead([running.loop("second")]))
    try:
        await until(lambda: second.is_leader, 3.0)
    finally:
        again.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await again
