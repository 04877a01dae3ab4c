"""A second process that COPYs a replay's facts into the new database's `facts` table.

It reads the source topics on its own, states, numbers and dates the facts as the replay's
ledger does, and COPYs them in one transaction while the ledger is built and the periods
are closed again: it uses a core the ledger's process cannot (the GIL), beside PostgreSQL's.
Reading the topics twice costs less than handing a million messages from one process to
the other (measured: the ledger's process was a second slower pickling them; handing the
rows back instead made this process the bottleneck, 39 s against 26 s). The two may
see the partitions interleaved differently, so the table's `seq` order may differ from
the ledger's reading order; a ledger's statements do not depend on that order.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
from collections.abc import Callable, Sequence
from multiprocessing.queues import Queue
from typing import Any, TypeVar

import asyncpg
import msgspec

from ipshare import bus
from ipshare.database import indexes_built_after
from ipshare.settings import BusSettings
from revenue_share.adapters.inbox import InboxProjection, facts
from revenue_share.replay import LearnedAt
from revenue_share.source_facts import FactReader, SourceMessage

_COLUMNS = ["seq", "fact_id", "kind", "body", "source_topic", "source_position", "recorded_at"]
T = TypeVar("T")


class CopierFailed(RuntimeError):
    """The copier failed or died: nothing it wrote is committed, and the replay fails too."""


class FactCopier:
    """The replay's side: `start` it, `begin` once the database exists, then `finish`."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # not fork: this process runs threads
        self._orders: Queue[tuple[BusSettings, str, LearnedAt]] = context.Queue(1)
        self._outcome: Queue[tuple[str, Any]] = context.Queue()
        self._process = context.Process(
            target=_run, args=(self._orders, self._outcome), name="fact-copier", daemon=True
        )

    def start(self) -> None:
        """Start it early: the new process spends a second importing while the replay gets ready."""
        self._process.start()

    def begin(self, settings: BusSettings, database_url: str, learned_at: LearnedAt) -> None:
        self._orders.put((settings, database_url, learned_at))

    async def finish(self) -> int:
        """Wait for the COPY to commit; returns how many facts it copied."""
        verdict, detail = await asyncio.to_thread(self._waiting, self._outcome.get)
        await asyncio.to_thread(self._process.join)
        if verdict != "copied":
            raise CopierFailed(f"copying the facts failed: {detail}")
        return int(detail)

    def stop(self) -> None:
        """Make sure it is gone: after a failure elsewhere it may still be copying (nothing it
        wrote is committed then)."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()

    def _waiting(self, step: Callable[..., T]) -> T:
        """A blocking queue step that gives up if the copier has died (it would block forever)."""
        while True:
            alive = self._process.is_alive()  # before the wait: what it sent before dying is there
            try:
                return step(timeout=1.0)
            except (queue.Full, queue.Empty):
                if not alive:
                    raise CopierFailed(f"the fact copier exited with status {self._process.exitcode}") from None


def _run(orders: Queue[tuple[BusSettings, str, LearnedAt]], outcome: Queue[tuple[str, Any]]) -> None:
    # The ledger's process is the replay's critical path; this one has slack until the closes
    # are recorded, so it yields a shared core first.
    os.nice(10)
    try:
        outcome.put(("copied", asyncio.run(_copy(*orders.get()))))
    except BaseException as exc:
        outcome.put(("failed", f"{type(exc).__name__}: {exc}"))
        raise


async def _copy(settings: BusSettings, database_url: str, learned_at: LearnedAt) -> int:
    """Each batch's COPY runs while the next one is read and decoded (in a worker thread: on the
    event loop it would hold the loop, and the COPY would only move between batches)."""
    reader = FactReader(learned_at)
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(), indexes_built_after(conn, facts.name):
            copying = None
            async for batch in bus.read_from_beginning(settings, InboxProjection.topics):
                rows = await asyncio.to_thread(_rows, reader, batch)
                if copying is not None:
                    await copying
                copying = asyncio.ensure_future(conn.copy_records_to_table(facts.name, records=rows, columns=_COLUMNS))
            if copying is not None:
                await copying
    finally:
        await conn.close()
    return reader.facts


_encoder = msgspec.json.Encoder()


def _rows(reader: FactReader, batch: Sequence[SourceMessage]) -> list[tuple[Any, ...]]:
    return [
        (fact.seq, fact.fact_id, fact.kind, _encoder.encode(fact.body).decode(), fact.topic, fact.position,
         fact.recorded_at)
        for fact in reader.new_facts(batch)
    ]  # fmt: skip
