"""Kafka look-ups for operators: topics with consumer lag, dead letters, decoded tails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.envelope import EnvelopeError, decode
from services.kernel.kafka import KafkaSettings
from services.kernel.subscriber import DLT_CONSUMER, DLT_ERROR, DLT_OFFSET, DLT_PARTITION, DLT_TOPIC


@dataclass(frozen=True)
class GroupLag:
    group: str
    topic: str
    lag: int


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    original_topic: str
    original_offset: str
    consumer: str
    error: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


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


async def consumer_lag(settings: KafkaSettings) -> list[GroupLag]:
    """Each consumer group's lag per topic (end offset minus committed offset)."""
    admin = AIOKafkaAdminClient(**settings.client_options())
    await admin.start()
    consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        lags: list[GroupLag] = []
        for group, _protocol in await admin.list_consumer_groups():
            offsets = await admin.list_consumer_group_offsets(group)
            if not offsets:
                continue
            ends = await consumer.end_offsets(list(offsets))
            per_topic: dict[str, int] = {}
            for tp, meta in offsets.items():
                per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(ends[tp] - meta.offset, 0)
            lags.extend(GroupLag(group, topic, lag) for topic, lag in sorted(per_topic.items()))
        return lags
    finally:
        await consumer.stop()
        await admin.close()


async def read_all(settings: KafkaSettings, topic: str) -> AsyncIterator[ConsumerRecord[Any, Any]]:
    """Every record now on ``topic``, from the beginning to the current end."""
    consumer = AIOKafkaConsumer(
        **settings.client_options(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    yield record
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if not batch:
                remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()


def as_dead_letter(record: ConsumerRecord[Any, Any]) -> DeadLetter:
    headers = {k: bytes(v) for k, v in record.headers}
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        original_topic=headers.get(DLT_TOPIC, b"?").decode(),
        original_offset=headers.get(DLT_PARTITION, b"?").decode()
        + ":"
        + headers.get(DLT_OFFSET, b"?").decode(),
        consumer=headers.get(DLT_CONSUMER, b"?").decode(),
        error=headers.get(DLT_ERROR, b"").decode("utf-8", "replace"),
        key=record.key,
        value=record.value or b"",
        headers=tuple((k, bytes(v)) for k, v in record.headers),
    )


async def replay(settings: KafkaSettings, letters: list[DeadLetter]) -> int:
    """Publish dead letters again to their original topics, without the dlt_ headers."""
    producer = AIOKafkaProducer(**settings.client_options(), enable_idempotence=True)
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(
                letter.original_topic,
                value=letter.value,
                key=letter.key,
                headers=[(k, v) for k, v in letter.headers if not k.startswith("dlt_")],
            )
        return len(letters)
    finally:
        await producer.stop()


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
