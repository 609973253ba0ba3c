"""A subscription that consumes in batches: one transaction and one offset commit per batch,
with the same exactly-once effect and dead-lettering as one event at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from services.kernel.db import exclusively
from services.kernel.eventstore import EventStore
from services.kernel.kafka import KafkaSettings, dead_letter_topic, ensure_topics
from services.kernel.outbox import OutboxRelay
from services.kernel.subscriber import DLT_ERROR, InboundEvent, PoisonMessageError, Subscription
from tests.integration.kernel.conftest import TOPIC, Incremented, apply_incremented, test_registry
from tests.integration.kernel.test_relay_and_subscriber import (
    append_counters,
    applied_counts,
    inc,
    relay,
)
from tests.support.kafka import read_topic
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until

__all__ = ["relay"]


async def apply_all(conn: asyncpg.Connection, events: Sequence[InboundEvent]) -> None:
    for event in events:
        await apply_incremented(conn, event)


async def apply_unless_poison(conn: asyncpg.Connection, event: InboundEvent) -> None:
    assert isinstance(event.payload, Incremented)
    if event.payload.counter == "counter-poison":
        raise PoisonMessageError("this counter can never be applied")
    await apply_incremented(conn, event)


@pytest.fixture
async def batch_projection(
    pool: asyncpg.Pool, kafka_settings: KafkaSettings, unique: str
) -> AsyncIterator[Subscription]:
    sub = Subscription(
        name=f"counter-batch-{unique}",
        topics=[TOPIC],
        handlers={Incremented: apply_incremented},
        registry=test_registry,
        pool=lambda: pool,
        kafka=kafka_settings,
        batch_size=100,
        batch_handler=apply_all,
    )
    await ensure_topics(kafka_settings, {TOPIC: 3})
    broker = KafkaBroker(KAFKA_BOOTSTRAP, logger=None)
    sub.attach(broker)
    await broker.start()
    try:
        yield sub
    finally:
        await broker.stop()


async def test_a_batch_subscriber_applies_every_event_once_and_in_stream_order(
    pool: asyncpg.Pool,
    store: EventStore,
    relay: OutboxRelay,
    batch_projection: Subscription,
    topic_prefix: str,
) -> None:
    await append_counters(pool, store, counters=5, each=40)

    async def all_applied() -> bool:
        return await applied_counts(pool) == {f"counter-{c}": (40, 0) for c in range(5)}

    await wait_until(all_applied, timeout=60, what="200 events applied")
    records = await read_topic(topic_prefix + TOPIC, expect=200)
    broker = KafkaBroker(KAFKA_BOOTSTRAP, logger=None)
    await broker.connect()
    try:
        # Redelivered, and even twice within one batch: no second effect.
        await batch_projection.handle_records(broker, [*records[:50], *records[:50]])
    finally:
        await broker.stop()
    assert await applied_counts(pool) == {f"counter-{c}": (40, 0) for c in range(5)}


async def test_a_poison_event_in_a_batch_is_dead_lettered_and_the_others_are_applied(
    pool: asyncpg.Pool,
    store: EventStore,
    relay: OutboxRelay,
    kafka_settings: KafkaSettings,
    topic_prefix: str,
    unique: str,
) -> None:
    sub = Subscription(
        name=f"counter-poison-{unique}",
        topics=[TOPIC],
        handlers={Incremented: apply_unless_poison},
        registry=test_registry,
        pool=lambda: pool,
        kafka=kafka_settings,
        batch_size=100,
    )
    async with pool.acquire() as conn:
        for counter in ("counter-a", "counter-poison"):
            await store.append(
                conn,
                stream_id=counter,
                expected_version=0,
                events=[inc(counter, n) for n in (1, 2)],
                topic=TOPIC,
            )
    records = await read_topic(topic_prefix + TOPIC, expect=4)
    broker = KafkaBroker(KAFKA_BOOTSTRAP, logger=None)
    await broker.connect()
    try:
        await sub.handle_records(broker, records)
    finally:
        await broker.stop()
    assert await applied_counts(pool) == {"counter-a": (2, 0)}
    dead = await read_topic(dead_letter_topic(topic_prefix + TOPIC), expect=2)
    assert all("PoisonMessageError" in dict(r.headers)[DLT_ERROR].decode() for r in dead)
    assert {r.key for r in dead} == {b"counter-poison"}


async def _someone_waits_for_an_advisory_lock(pool: asyncpg.Pool) -> bool:
    waiting: int = await pool.fetchval(
        """SELECT count(*) FROM pg_locks
           WHERE locktype = 'advisory' AND NOT granted AND database = (
               SELECT oid FROM pg_database WHERE datname = current_database())"""
    )
    return waiting > 0


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "one-by-one"])
async def test_a_guarded_subscription_applies_nothing_while_its_guard_is_held_exclusively(
    pool: asyncpg.Pool,
    store: EventStore,
    relay: OutboxRelay,
    kafka_settings: KafkaSettings,
    topic_prefix: str,
    unique: str,
    batch: bool,
) -> None:
    # What a rebuild relies on: holding the guard, it finds no transaction of the
    # subscription in flight, and none starts (or writes anything) until it lets go.
    sub = Subscription(
        name=f"counter-guarded-{unique}",
        topics=[TOPIC],
        handlers={Incremented: apply_incremented},
        registry=test_registry,
        pool=lambda: pool,
        kafka=kafka_settings,
        batch_size=100 if batch else 1,
        guard=f"guard-{unique}",
    )
    assert sub.guard is not None
    async with pool.acquire() as conn:
        await store.append(
            conn,
            stream_id="counter-a",
            expected_version=0,
            events=[inc("counter-a", n) for n in (1, 2)],
            topic=TOPIC,
        )
    records = await read_topic(topic_prefix + TOPIC, expect=2)
    broker = KafkaBroker(KAFKA_BOOTSTRAP, logger=None)
    await broker.connect()
    try:
        async with pool.acquire() as holder, exclusively(holder, sub.guard):

            async def apply() -> None:
                if batch:
                    await sub.handle_records(broker, records)
                else:
                    for record in records:
                        await sub.handle_record(broker, record)

            applying = asyncio.ensure_future(apply())
            await wait_until(
                lambda: _someone_waits_for_an_advisory_lock(pool),
                timeout=30,
                what="the subscription waiting for its guard",
            )
            assert not applying.done()
            assert await applied_counts(pool) == {}
            processed = await pool.fetchval(
                "SELECT count(*) FROM processed_events WHERE consumer = $1", sub.name
            )
            assert processed == 0, "nothing, not even the dedup rows, before the guard"
        await asyncio.wait_for(applying, timeout=30)
    finally:
        await broker.stop()
    assert await applied_counts(pool) == {"counter-a": (2, 0)}
