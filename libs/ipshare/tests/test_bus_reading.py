"""Reading topics to their end: a slow caller never cuts a read short (the loop, against a scripted reader)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from ipshare.bus import ReadStalled, read_until_drained

TP = TopicPartition("t", 0)


class ScriptedReader:
    """One partition of `total` messages; the broker answers the first fetch after each batch empty."""

    def __init__(self, total: int, *, highwater: int | None = None) -> None:
        self.total, self.reported, self.next = total, total if highwater is None else highwater, 0
        self.empty_answer_due = False

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        await asyncio.sleep(timeout_ms / 1000 / 10)
        if self.empty_answer_due or self.next >= self.total:
            self.empty_answer_due = False
            return {}
        self.empty_answer_due = True
        self.next += 1
        return {TP: [ConsumerRecord("t", 0, self.next - 1, 0, 0, None, b"", 0, 0, 0, [])]}

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.reported if self.next else None

    async def position(self, partition: TopicPartition) -> int:
        return self.next


async def test_a_caller_slower_than_the_idle_time_still_gets_every_message() -> None:
    read = []
    async for batch in read_until_drained(ScriptedReader(4), [TP], 10, idle_seconds=0.05, stall_seconds=5):
        read += batch
        await asyncio.sleep(0.1)  # the caller works on the batch for longer than the idle time
    assert [r.offset for r in read] == [0, 1, 2, 3]


async def test_messages_reported_but_never_arriving_are_an_error_not_a_short_read() -> None:
    with pytest.raises(ReadStalled):
        async for _batch in read_until_drained(ScriptedReader(2, highwater=5), [TP], 10, 0.01, stall_seconds=0.2):
            pass
