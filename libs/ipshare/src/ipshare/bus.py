"""Kafka clients configured from settings, so the same code runs on Apache Kafka and tansu."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from ipshare.settings import BusSettings


def topic_of(service: str) -> str:
    """The topic a service publishes its events on, e.g. `ipshare.ip-registry.v1`."""
    return f"ipshare.{service}.v1"


def group_of(service: str, projection: str) -> str:
    """The consumer group of a service's projection, e.g. `revenue-share.inbox`."""
    return f"{service}.{projection}"


def dead_letter_topic_of(service: str) -> str:
    """Where a service's consumers put messages they cannot decode."""
    return f"ipshare.{service}.dead-letter.v1"


def producer(settings: BusSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=5,
        max_request_size=settings.max_message_bytes + 64_000,
    )


def consumer(settings: BusSettings, group_id: str | None, *topics: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        max_poll_records=5000,
    )


async def ensure_topics(settings: BusSettings, topics: Iterable[str]) -> None:
    """Create topics explicitly (auto-created ones get the broker's default partitions)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, settings.topic_partitions, settings.topic_replication_factor)
            for name in topics
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another service created it first
                await admin.create_topics(wanted)
    finally:
        await admin.close()


async def missing_topics(settings: BusSettings, topics: Iterable[str]) -> list[str]:
    """Which of `topics` the broker's metadata does not list (a wiped broker lists none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=5000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    return [topic for topic in topics if topic not in existing]


async def message_count(settings: BusSettings, topic: str, *, wait_seconds: float = 10.0) -> int:
    """Messages the topic has ever held (the sum of its partitions' high watermarks; retention and
    compaction do not lower it). Read from fetch responses: tansu undercounts `end_offsets`."""
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                              fetch_max_bytes=1024, max_partition_fetch_bytes=1024)  # fmt: skip
    await reader.start()
    try:
        await reader.topics()  # loads the metadata
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        if not partitions:
            return 0
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        async with asyncio.timeout(wait_seconds):
            while any(reader.highwater(tp) is None for tp in partitions):
                await reader.getmany(timeout_ms=100, max_records=1)
        return sum(reader.highwater(tp) or 0 for tp in partitions)
    finally:
        await reader.stop()


async def delete_topics(settings: BusSettings, topics: Iterable[str]) -> None:
    """Delete topics (fault drills and tests: a lost topic is refilled by its relay)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics(list(topics))
    finally:
        await admin.close()


async def broker_ready(bootstrap_servers: str) -> bool:
    """True when the broker answers a real Kafka request (a metadata listing)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000)
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)  # a refused connection is the expected answer while it starts
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except (TimeoutError, KafkaConnectionError, OSError):
        return False
    finally:
        await admin.close()
        aiokafka_log.setLevel(level)


class ReadStalled(RuntimeError):
    """A partition reported messages beyond those read, and none came for too long."""


class _PartitionReader(Protocol):
    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...

    async def position(self, partition: TopicPartition) -> int: ...


async def read_from_beginning(
    settings: BusSettings,
    topics: Iterable[str],
    *,
    batch: int = 10_000,
    idle_seconds: float = 5.0,
    stall_seconds: float = 120.0,
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Every message on `topics` up to the end as it stands now, in batches, without a consumer group.

    "The end" is each partition's high watermark from fetch responses (tansu undercounts
    `end_offsets`); a partition that never reports one counts as drained after `idle_seconds`.
    """
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await reader.start()
    try:
        await reader.topics()  # loads the metadata
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in sorted(reader.partitions_for_topic(topic) or ())
        ]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        async for found in read_until_drained(reader, partitions, batch, idle_seconds, stall_seconds):
            yield found
    finally:
        await reader.stop()


async def read_until_drained(
    reader: _PartitionReader,
    partitions: list[TopicPartition],
    batch: int,
    idle_seconds: float,
    stall_seconds: float,
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Batches until every partition is read to its high watermark. Idle time counts only while
    waiting on the broker, never while the caller works on a batch: a slow caller must not make a
    partition with messages left look drained. Messages reported but not arriving are an error."""
    idle_since = time.monotonic()
    while partitions:
        records = await reader.getmany(timeout_ms=200, max_records=batch)
        if found := [r for rs in records.values() for r in rs]:
            yield found
            idle_since = time.monotonic()
        idle_for = time.monotonic() - idle_since
        if await _drained(reader, partitions, silent_ones_too=idle_for > idle_seconds):
            return
        if idle_for > stall_seconds:
            raise ReadStalled(f"no message for {idle_for:.0f} s, yet partitions report more: {partitions}")


async def _drained(reader: _PartitionReader, partitions: list[TopicPartition], *, silent_ones_too: bool) -> bool:
    for tp in partitions:
        highwater = reader.highwater(tp)
        if highwater is None:
            if not silent_ones_too:
                return False
        elif await reader.position(tp) < highwater:
            return False
    return True
