"""Reading topics in tests with a plain aiokafka consumer (no group, from the beginning)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.kernel.kafka import KafkaSettings
from services.operator.kafka_tools import delete_topics_with_prefix
from tests.support.stack import KAFKA_BOOTSTRAP


async def create_topics(*names: str, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


async def read_topic(
    topic: str, *, expect: int, timeout: float = 20.0, bootstrap: str = KAFKA_BOOTSTRAP
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the start, once at least ``expect`` have arrived.

    After reaching ``expect`` it reads on to the partitions' current end offsets, so
    duplicates beyond ``expect`` are returned too.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] | None = None
        while partitions is None:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()
                if time.monotonic() > deadline:
                    raise AssertionError(f"topic {topic} does not exist")
                await asyncio.sleep(0.1)  # wait-ok: metadata polling with a deadline
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
            if len(records) >= expect:
                ends = await consumer.end_offsets(tps)
                positions = [await _position(consumer, tp) for tp in tps]
                if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                    return records
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {len(records)} of {expect} records on {topic} after {timeout}s"
                )
    finally:
        await consumer.stop()


async def _position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int:
    return int(await consumer.position(tp))


async def delete_topics(prefix: str, bootstrap: str = KAFKA_BOOTSTRAP) -> None:
    """Delete the topics a test made: every topic Kafka holds slows its start a little."""
    await delete_topics_with_prefix(KafkaSettings(bootstrap_servers=bootstrap), prefix)


async def topic_partitions(*topics: str, bootstrap: str = KAFKA_BOOTSTRAP) -> list[Any]:
    """The topics' metadata (name, partitions with leader, replicas, in-sync replicas)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.describe_topics(list(topics)))
    finally:
        await admin.close()


@dataclass(frozen=True)
class TopicReplication:
    """How a topic is kept, as the cluster describes it."""

    partitions: int
    copies: set[int]
    """The replica counts of its partitions (one value when they all have the same)."""
    min_insync_replicas: str


async def topic_replication(topic: str, bootstrap: str = KAFKA_BOOTSTRAP) -> TopicReplication:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"min.insync.replicas": None})]
        )
    finally:
        await admin.close()
    entries = {e[0]: e[1] for r in responses for res in r.resources for e in res[4]}
    return TopicReplication(
        partitions=len(described["partitions"]),
        copies={len(p["replicas"]) for p in described["partitions"]},
        min_insync_replicas=entries["min.insync.replicas"],
    )


async def group_members(group: str, bootstrap: str = KAFKA_BOOTSTRAP) -> list[tuple[Any, ...]]:
    """The members of a consumer group as Kafka describes them (DescribeGroups v0-v3):
    (member_id, client_id, client_host, metadata, assignment); a static member's id begins
    with its group instance id."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    return [tuple(member) for r in responses for described in r.groups for member in described[5]]
