"""How far the inbox's consumer has read the source topics, against where they end.

A close covers what the source services had published when it was requested: it takes each
source partition's end then, and waits until the inbox's consumer group has committed past it
(the consumer commits a batch's offset only after the batch and its marks are in the database).

The ends are high watermarks from fetch responses: tansu's `end_offsets` (ListOffsets) counts
the last batch as one record, so it may lie before the end, never after it. A fetch from there
returns the rest of the partition's last batch, and with it the true end.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from ipshare.settings import BusSettings

Offsets = dict[TopicPartition, int]


class EndsUnknown(RuntimeError):
    """The broker did not report where every source partition ends."""


class SourceTopics:
    """The source topics as the inbox's consumer group reads them."""

    def __init__(self, settings: BusSettings, group_id: str, topics: Sequence[str]) -> None:
        self.settings = settings
        self.group_id = group_id
        self.topics = tuple(topics)

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[Watch]:
        """A consumer of the inbox's group that only looks: assigned (it joins no group), never committing."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
        )
        await consumer.start()
        try:
            await consumer.topics()  # loads the metadata
            partitions = [TopicPartition(topic, p) for topic in self.topics
                          for p in sorted(consumer.partitions_for_topic(topic) or ())]  # fmt: skip
            consumer.assign(partitions)
            yield Watch(consumer, partitions)
        finally:
            await consumer.stop()


class Watch:
    def __init__(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        self._consumer = consumer
        self._partitions = partitions

    async def ends(self, wait_seconds: float = 5.0) -> Offsets:
        """Each partition's end (the offset its next message will get) as it stands now."""
        consumer, partitions = self._consumer, self._partitions
        for tp, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, max(offset - 1, 0))  # no later than the end: the fetch answers at once
        deadline = time.monotonic() + wait_seconds
        while any(consumer.highwater(tp) is None for tp in partitions):
            if time.monotonic() > deadline:
                missing = [f"{tp.topic}/{tp.partition}" for tp in partitions if consumer.highwater(tp) is None]
                raise EndsUnknown(f"the broker reported no end for {', '.join(missing)}")
            await consumer.getmany(timeout_ms=100, max_records=1)
        return {tp: consumer.highwater(tp) or 0 for tp in partitions}

    async def behind(self, ends: Mapping[TopicPartition, int]) -> Offsets:
        """Per partition, how many messages before `ends` the inbox has not applied yet (only those behind)."""
        committed = {tp: await self._consumer.committed(tp) or 0 for tp in ends}
        return {tp: end - committed[tp] for tp, end in ends.items() if committed[tp] < end}
