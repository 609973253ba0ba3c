"""Kafka look-ups for operators: topics with consumer lag, dead letters, decoded tails."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.envelope import EnvelopeError, decode
from services.kernel.kafka import KafkaSettings
from services.kernel.metrics import GroupLag, consumer_lag

__all__ = [
    "GroupLag",
    "consumer_lag",
    "delete_topics_with_prefix",
    "describe",
    "topics_with_ends",
    "topics_with_prefix",
]


async def topics_with_ends(settings: KafkaSettings) -> dict[str, int]:
    """Topic -> number of records (sum of end offsets), internal topics left out."""
    consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if not t.startswith("__"))
        result: dict[str, int] = {}
        for topic in topics:
            parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in parts]
            ends = await consumer.end_offsets(tps) if tps else {}
            result[topic] = sum(ends.values())
        return result
    finally:
        await consumer.stop()


def describe(record: ConsumerRecord[Any, Any]) -> dict[str, Any]:
    """A record decoded from CloudEvents for display (type, subject, time, data keys)."""
    try:
        env = decode(record.key, [(k, bytes(v)) for k, v in record.headers], record.value or b"")
    except EnvelopeError as exc:
        return {"offset": record.offset, "error": str(exc)}
    return {
        "partition": record.partition,
        "offset": record.offset,
        "type": env.type,
        "subject": env.subject,
        "time": env.time.isoformat(),
        "id": str(env.id),
        "data": env.data,
    }


async def delete_topics_with_prefix(settings: KafkaSettings, prefix: str) -> list[str]:
    """Delete every topic whose name starts with ``prefix`` (test and benchmark runs).

    Each topic Kafka holds costs it time at start-up, so runs clean up after themselves.
    """
    if not prefix:
        raise ValueError("refusing to delete every topic: give a prefix")
    admin = AIOKafkaAdminClient(**settings.client_options())
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
        return mine
    finally:
        await admin.close()


async def topics_with_prefix(settings: KafkaSettings, prefix: str) -> list[str]:
    """The topics whose name starts with ``prefix`` (including those being deleted)."""
    admin = AIOKafkaAdminClient(**settings.client_options())
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(prefix))
    finally:
        await admin.close()
