"""The replay's second process: it writes the new database while the first builds the ledger.

1. It reads the source topics on its own, states, numbers and dates the facts as the
   replay's ledger does, and COPYs them into the `facts` table in one transaction, while
   the ledger's process reads the same topics into its ledger: it uses a core that
   process cannot (the GIL), beside PostgreSQL's.
2. It records the policies, the periods and each recomputed close in the new event store,
   as the ledger's process sends them, so recording a close overlaps computing the next.

Reading the topics twice costs less than handing a million messages from one process to
the other (measured: the ledger's process was a second slower pickling them; handing the
rows back instead made this process the bottleneck, 39 s against 26 s). A close crosses
over as issued statements (`statements.as_issued`), without their source ids, in msgpack. The two
may see the partitions interleaved differently, so the table's `seq` order may differ
from the ledger's reading order; a ledger's statements do not depend on that order.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
from collections.abc import Callable, Sequence
from datetime import datetime
from multiprocessing.queues import Queue
from typing import Any, NamedTuple, TypeVar

import asyncpg
import msgspec

from ipshare import bus
from ipshare.auth import Principal, Role
from ipshare.database import indexes_built_after
from ipshare.eventstore import CommandContext, persistence_env
from ipshare.settings import BusSettings
from revenue_share.adapters.inbox import InboxProjection, facts
from revenue_share.application import RevenueShareApplication
from revenue_share.domain.facts import Period
from revenue_share.domain.policy_versions import Policy, fields_of, policy_of
from revenue_share.domain.statements import Statement, as_issued
from revenue_share.replay import LearnedAt
from revenue_share.source_facts import FactReader, SourceMessage

REPLAY = CommandContext(Principal(Role.ADMIN, "replay"), correlation_id="replay")  # re-records policies too
_COLUMNS = ["seq", "fact_id", "kind", "body", "source_topic", "source_position", "recorded_at"]
T = TypeVar("T")


class ReplayWriterFailed(RuntimeError):
    """The writer failed or died: the replay fails too. Its COPY is one transaction, so the
    facts are either all in the new database or none is."""


class _Begin(NamedTuple):
    settings: BusSettings
    database_url: str
    learned_at: LearnedAt
    policies: Sequence[dict[str, Any]]  # each version's plain fields (`fields_of`): a policy holds read-only
    periods: Sequence[Period]  # mappings, which do not pickle


class _Close(NamedTuple):
    period_id: str
    closed_at: datetime
    statements: bytes  # the issued statements, in msgpack
    marks: list[dict[str, Any]]


# A close crosses in msgpack rather than pickled: a tenth of the time, taken from the
# ledger's process (its queue pickles in a thread of that process).
_encode_statements = msgspec.msgpack.Encoder().encode
_decode_statements = msgspec.msgpack.Decoder(tuple[Statement, ...]).decode


_END = None  # no more closes


class ReplayWriter:
    """The replay's side: `start` it, `begin` once the database exists, `record` each close,
    then `finish`."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # not fork: this process runs threads
        self._orders: Queue[_Begin | _Close | None] = context.Queue()
        self._outcome: Queue[tuple[str, Any]] = context.Queue()
        self._process = context.Process(
            target=_run, args=(self._orders, self._outcome), name="replay-writer", daemon=True
        )

    def start(self) -> None:
        """Start it early: the new process spends a second importing while the replay gets ready."""
        self._process.start()

    def begin(
        self,
        settings: BusSettings,
        database_url: str,
        learned_at: LearnedAt,
        policies: Sequence[Policy] = (),
        periods: Sequence[Period] = (),
    ) -> None:
        """Copy the facts, then record the policies and periods (in start order) before any close."""
        self._orders.put(_Begin(settings, database_url, learned_at, [fields_of(p) for p in policies], list(periods)))

    def record(self, period_id: str, closed_at: datetime, statements: Sequence[Statement],
               marks: list[dict[str, Any]]) -> None:  # fmt: skip
        """Record a recomputed close, after the ones sent before it."""
        self._orders.put(_Close(period_id, closed_at, _encode_statements(as_issued(statements)), marks))

    async def finish(self, recorded: Callable[[int], None] = lambda done: None) -> int:
        """Wait for every close sent to be recorded; returns how many facts were copied.
        `recorded(done)` hears of each close recorded."""
        self._orders.put(_END)
        while True:
            verdict, detail = await asyncio.to_thread(self._waiting, self._outcome.get)
            if verdict == "recorded":
                recorded(int(detail))
            elif verdict == "done":
                await asyncio.to_thread(self._process.join)
                return int(detail)
            else:
                raise ReplayWriterFailed(f"writing the new database failed: {detail}")

    def stop(self) -> None:
        """Make sure it is gone: after a failure elsewhere it may still be writing (its COPY is
        not committed then)."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        # Closes a failed writer never read stay in the queue's pipe, and at exit this process
        # would wait for ever to hand them over: drop them instead.
        self._orders.cancel_join_thread()

    def _waiting(self, step: Callable[..., T]) -> T:
        """A blocking queue step that gives up if the writer has died (it would block forever)."""
        while True:
            alive = self._process.is_alive()  # before the wait: what it sent before dying is there
            try:
                return step(timeout=1.0)
            except (queue.Full, queue.Empty):
                if not alive:
                    raise ReplayWriterFailed(f"the replay writer exited with status {self._process.exitcode}") from None


def _run(orders: Queue[_Begin | _Close | None], outcome: Queue[tuple[str, Any]]) -> None:
    # The ledger's process is the replay's critical path while it reads the topics; this one
    # has slack until the closes come, so it yields a shared core first.
    os.nice(10)
    try:
        begin = orders.get()
        assert isinstance(begin, _Begin)
        copied = asyncio.run(_copy(begin.settings, begin.database_url, begin.learned_at))
        _record(begin, orders, outcome)
        outcome.put(("done", copied))
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


def _record(begin: _Begin, orders: Queue[_Begin | _Close | None], outcome: Queue[tuple[str, Any]]) -> None:
    """The policies, the periods, then each close as it comes, in the new event store."""
    app = RevenueShareApplication(persistence_env(begin.database_url, connections=1))  # see its docstring
    try:
        for fields in begin.policies:
            app.record_policy(REPLAY, policy_of(fields))
        for period in sorted(begin.periods, key=lambda p: p.start):
            app.open_period(REPLAY, period.period_id, period.start, period.end)
        done = 0
        while (close := orders.get()) is not _END:
            assert isinstance(close, _Close)
            statements = _decode_statements(close.statements)
            app.record_close(REPLAY, close.period_id, close.closed_at, statements, close.marks)
            done += 1
            outcome.put(("recorded", done))
    finally:
        app.close()
