"""Leader election among a service's replicas: a PostgreSQL advisory lock on a dedicated connection.

Every replica serves HTTP and gRPC; only the leader runs the loops that must have one writer (the
relay, the audit chaining, commercialization's transfer dispatcher and licence expiry). The lock
is a session lock on a connection of its own: when the process dies, its connection closes and
PostgreSQL releases the lock, and a standby, which tries every `retry_seconds`, takes over. The
leader checks its connection every `check_seconds` (each check waits at most as long) and stops
its loops once it is gone; a new leader waits twice that before it starts its loops, so a leader
that lost its connection but lives on has stopped before the next one begins. Every loop also
tolerates a repeat: positions are stored after the work, and the work is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import asyncpg

from ipshare.observability import IS_LEADER, log

Loop = Callable[[], Coroutine[Any, Any, None]]


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a name."""
    return int.from_bytes(hashlib.sha256(f"ipshare.leader/{name}".encode()).digest()[:8], "big", signed=True)


class Leadership:
    def __init__(self, database_url: str, name: str, *, retry_seconds: float = 1.0, check_seconds: float = 1.0) -> None:
        self.database_url, self.name = database_url, name
        self.key = lock_key(name)
        self.retry_seconds, self.check_seconds = retry_seconds, check_seconds
        self.is_leader = False
        self.terms = 0  # how many times this process was elected

    async def lead(self, loops: Sequence[Loop]) -> None:
        """Forever: wait to be elected, run `loops` while the lock is held, stand by again when it is lost."""
        while True:
            conn = await self._elected()
            if conn is None:
                await asyncio.sleep(self.retry_seconds * random.uniform(0.5, 1.0))
                continue
            try:
                await self._run_while_held(conn, loops)
            finally:
                self._step_down()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)
                conn.terminate()

    async def _elected(self) -> asyncpg.Connection | None:
        try:
            conn = await asyncpg.connect(self.database_url, timeout=5)
        except Exception as exc:
            log.warning("leader election: database unreachable", name=self.name, error=repr(exc))
            return None
        try:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
                return conn
        except Exception as exc:
            log.warning("leader election failed", name=self.name, error=repr(exc))
        conn.terminate()
        return None

    async def _run_while_held(self, conn: asyncpg.Connection, loops: Sequence[Loop]) -> None:
        await asyncio.sleep(2 * self.check_seconds)  # the previous leader has noticed its loss by now
        self.is_leader = True
        self.terms += 1
        IS_LEADER.labels(self.name).set(1)
        log.info("elected leader: running the single-writer loops", name=self.name, backend_pid=conn.get_server_pid())
        tasks = [asyncio.create_task(loop(), name=f"led:{self.name}:{i}") for i, loop in enumerate(loops)]
        try:
            while True:
                done, _ = await asyncio.wait(tasks, timeout=self.check_seconds, return_when=asyncio.FIRST_COMPLETED)
                for task in done:  # the loops retry on their own: one that ends is a bug; let another replica try
                    log.error("a led loop ended; stepping down", name=self.name, task=task.get_name(),
                              error=repr(task.exception()) if not task.cancelled() else "cancelled")  # fmt: skip
                    return
                try:
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), self.check_seconds)
                except Exception as exc:
                    log.error("lost the leader's database connection; stepping down", name=self.name, error=repr(exc))
                    return
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _step_down(self) -> None:
        if self.is_leader:
            log.info("no longer leader", name=self.name)
        self.is_leader = False
        IS_LEADER.labels(self.name).set(0)
