"""A read model shown complete holds everything its topic held when the question was asked;
a command that waits for its events to be published answers once they are on Kafka."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from contracts.envelope import Envelope, encode
from services.kernel.eventstore import EventStore, NewEvent
from services.kernel.freshness import KafkaEndOffsets, PostgresAppliedOffsets, ViewFreshness
from services.kernel.kafka import KafkaSettings, ensure_topics
from services.kernel.outbox import OutboxRelay, PublishedWaiter
from services.kernel.subscriber import Subscription
from tests.integration.kernel.conftest import TOPIC, Incremented, apply_incremented, test_registry
from tests.support.stack import KAFKA_BOOTSTRAP


@pytest.fixture
async def ends(kafka_settings: KafkaSettings) -> AsyncIterator[KafkaEndOffsets]:
    offsets = KafkaEndOffsets(kafka_settings)
    try:
        yield offsets
    finally:
        await offsets.close()


def tracked(pool: asyncpg.Pool, kafka_settings: KafkaSettings, unique: str) -> Subscription:
    return Subscription(
        name=f"counter-view-{unique}",
        topics=[TOPIC],
        handlers={Incremented: apply_incremented},
        registry=test_registry,
        pool=lambda: pool,
        kafka=kafka_settings,
        track_positions=True,
    )


def freshness(
    sub: Subscription, ends: KafkaEndOffsets, pool: asyncpg.Pool, max_wait_s: float = 10.0
) -> ViewFreshness:
    return ViewFreshness(
        "counters", sub.name, [TOPIC], ends, PostgresAppliedOffsets(lambda: pool),
        max_wait_s=max_wait_s,
    )  # fmt: skip


async def produce(prefix: str, records: list[tuple[str, int]], *, poison: int = 0) -> None:
    """Incremented CloudEvents straight onto the topic (and ``poison`` unreadable records)."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, enable_idempotence=True)
    await producer.start()
    try:
        for _ in range(poison):
            await producer.send_and_wait(prefix + TOPIC, b"{not a cloudevent", key=b"x")
        for counter, n in records:
            wire = encode(
                Envelope(
                    type=Incremented.type_name(),
                    source="/kl/test",
                    subject=counter,
                    data=Incremented(counter=counter, n=n).to_data(),
                )
            )
            await producer.send(
                prefix + TOPIC, value=wire.value, key=wire.key, headers=list(wire.headers)
            )
        await producer.flush()
    finally:
        await producer.stop()


async def applied_total(pool: asyncpg.Pool) -> int:
    total: int | None = await pool.fetchval("SELECT sum(applied) FROM counter_view")
    return total or 0


async def test_a_view_shown_complete_holds_everything_on_the_topic_at_the_question(
    pool: asyncpg.Pool, kafka_settings: KafkaSettings, unique: str, ends: KafkaEndOffsets
) -> None:
    sub = tracked(pool, kafka_settings, unique)
    await ensure_topics(kafka_settings, {TOPIC: 3})
    broker = KafkaBroker(KAFKA_BOOTSTRAP, logger=None)
    sub.attach(broker)
    await broker.start()
    try:
        view = freshness(sub, ends, pool)
        for round_ in range(5):
            records = [(f"counter-{round_}-{c}", n) for c in range(10) for n in range(1, 11)]
            await produce(kafka_settings.topic_prefix, records, poison=1)
            asked = view.now()  # every record above is on the topic by now
            assert await view.complete_since(asked)
            # Read right after the answer: no waiting, the view must hold them all.
            assert await applied_total(pool) == 100 * (round_ + 1)
    finally:
        await broker.stop()


async def test_a_view_whose_consumer_does_not_run_is_not_shown_complete(
    pool: asyncpg.Pool, kafka_settings: KafkaSettings, unique: str, ends: KafkaEndOffsets
) -> None:
    sub = tracked(pool, kafka_settings, unique)
    await ensure_topics(kafka_settings, {TOPIC: 3})
    await produce(kafka_settings.topic_prefix, [("counter-a", 1)])
    view = freshness(sub, ends, pool, max_wait_s=0.3)
    assert not await view.complete_since(view.now())


async def test_an_empty_topic_is_complete_at_once(
    pool: asyncpg.Pool, kafka_settings: KafkaSettings, unique: str, ends: KafkaEndOffsets
) -> None:
    sub = tracked(pool, kafka_settings, unique)
    await ensure_topics(kafka_settings, {TOPIC: 3})
    view = freshness(sub, ends, pool, max_wait_s=0.3)
    assert await view.complete_since(view.now())


async def test_a_command_waits_until_its_events_are_on_kafka(
    pool: asyncpg.Pool, store: EventStore, kafka_settings: KafkaSettings, fresh_dsn: str
) -> None:
    async with pool.acquire() as conn:
        recorded = await store.append(
            conn,
            stream_id="counter-w",
            expected_version=0,
            events=[NewEvent(Incremented.type_name(), {"counter": "counter-w", "n": 1})],
            topic=TOPIC,
        )
    ids = [r.id for r in recorded]
    waiter = PublishedWaiter(lambda: pool, timeout_s=0.3)
    assert not await waiter.wait(ids), "no relay runs: not published within the timeout"

    relay = OutboxRelay(fresh_dsn, kafka_settings)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        patient = PublishedWaiter(lambda: pool, timeout_s=30)
        assert await patient.wait(ids)
        published = await pool.fetchval(
            "SELECT published_at IS NOT NULL FROM outbox WHERE event_id = $1", ids[0]
        )
        assert published
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
