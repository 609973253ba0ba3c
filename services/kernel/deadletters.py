"""Dead-lettered messages: read them back, list them for operators, replay them after a fix.

A subscriber parks what it cannot handle on ``<topic>.dlt`` with the reason and the
original position in ``dlt_*`` headers (see ``subscriber.py``). Replaying publishes the
original record again, headers and all but the ``dlt_*`` ones, to its original topic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from fastapi import Depends, FastAPI

from services.kernel.auth import require
from services.kernel.kafka import KafkaSettings, dead_letter_topic
from services.kernel.subscriber import DLT_CONSUMER, DLT_ERROR, DLT_OFFSET, DLT_PARTITION, DLT_TOPIC


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
    producer = AIOKafkaProducer(**settings.client_options(), **settings.producer_options())
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


async def list_dead_letters(settings: KafkaSettings, topic: str) -> list[DeadLetter]:
    """Everything now on the dead-letter topic of ``topic`` (a prefixed topic name)."""
    return [as_dead_letter(r) async for r in read_all(settings, dead_letter_topic(topic))]


def install_dead_letter_routes(
    app: FastAPI, settings: KafkaSettings, topics: Callable[[], Sequence[str]]
) -> None:
    """``GET /admin/dead-letters``: what this service's subscribers dead-lettered."""

    @app.get(
        "/admin/dead-letters",
        tags=["operations"],
        summary="Dead-lettered messages",
        dependencies=[Depends(require("operator"))],
    )
    async def dead_letters() -> list[dict[str, Any]]:
        letters: list[dict[str, Any]] = []
        for topic in topics():
            for letter in await list_dead_letters(settings, settings.topic(topic)):
                row = asdict(letter)
                row.pop("value")
                row.pop("headers")
                row["key"] = letter.key.decode("utf-8", "replace") if letter.key else None
                row["topic"] = dead_letter_topic(settings.topic(topic))
                letters.append(row)
        return letters
