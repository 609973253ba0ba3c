"""A tiny test domain for the kernel: counters that only ever get incremented."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from pydantic import Field

from contracts.base import EventPayload, EventRegistry
from services.kernel.db import Migration, create_pool
from services.kernel.eventstore import MIGRATIONS, EventStore
from services.kernel.kafka import KafkaSettings, ensure_topics
from services.kernel.subscriber import InboundEvent, Subscription
from tests.support.stack import KAFKA_BOOTSTRAP

TOPIC = "kernel.counters"


class Incremented(EventPayload):
    event_name = "dk.kl.test.counter.incremented"
    major = 1
    topic = TOPIC

    counter: str = Field(description="Counter id")
    n: int = Field(description="Sequence number within the counter")


test_registry = EventRegistry()
test_registry.register(Incremented)

PROJECTION = Migration(
    "test-0001-counter-projection",
    """CREATE TABLE counter_view (
           counter TEXT PRIMARY KEY,
           applied INTEGER NOT NULL,
           last_n INTEGER NOT NULL,
           out_of_order INTEGER NOT NULL DEFAULT 0)""",
)


async def apply_incremented(conn: asyncpg.Connection, event: InboundEvent) -> None:
    payload = event.payload
    assert isinstance(payload, Incremented)
    await conn.execute(
        """INSERT INTO counter_view (counter, applied, last_n) VALUES ($1, 1, $2)
           ON CONFLICT (counter) DO UPDATE SET applied = counter_view.applied + 1,
               out_of_order = counter_view.out_of_order
                              + (CASE WHEN excluded.last_n <> counter_view.last_n + 1
                                      THEN 1 ELSE 0 END),
               last_n = excluded.last_n""",
        payload.counter,
        payload.n,
    )


@pytest.fixture
def kafka_settings(topic_prefix: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP, topic_prefix=topic_prefix)


@pytest.fixture
async def pool(fresh_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fresh_dsn, [*MIGRATIONS, PROJECTION], max_size=20)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def store() -> EventStore:
    return EventStore(source="/kl/test")


@pytest.fixture
async def projection(
    pool: asyncpg.Pool, kafka_settings: KafkaSettings, unique: str
) -> AsyncIterator[Subscription]:
    """The counter projection, consuming in its own consumer group."""
    sub = Subscription(
        name=f"counter-view-{unique}",
        topics=[TOPIC],
        handlers={Incremented: apply_incremented},
        registry=test_registry,
        pool=lambda: pool,
        kafka=kafka_settings,
    )
    await ensure_topics(kafka_settings, {TOPIC: 3})
    broker = KafkaBroker(KAFKA_BOOTSTRAP, logger=None)
    sub.attach(broker)
    await broker.start()
    try:
        yield sub
    finally:
        await broker.stop()
