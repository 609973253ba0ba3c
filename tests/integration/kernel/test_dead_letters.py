"""Poison, a schema from the future and an oversized message: dead-lettered with the
reason, visible in the operator's command line, and replayable once the code is fixed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import ClassVar

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from pydantic import Field

from contracts.base import EventPayload, EventRegistry
from contracts.envelope import Envelope, encode
from services.kernel.kafka import KafkaSettings, ensure_topics
from services.kernel.subscriber import InboundEvent, Subscription
from tests.integration.kernel.conftest import TOPIC, Incremented, apply_incremented
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until


class IncrementedV2(EventPayload):
    """The next major version: a consumer written before it cannot read it."""

    event_name: ClassVar[str] = "dk.kl.test.counter.incremented"
    major: ClassVar[int] = 2
    topic: ClassVar[str] = TOPIC

    counter: str
    n: int
    step: int = Field(description="New in v2")


async def apply_v2(conn: asyncpg.Connection, event: InboundEvent) -> None:
    payload = event.payload
    assert isinstance(payload, IncrementedV2)
    await conn.execute(
        "INSERT INTO counter_view (counter, applied, last_n) VALUES ($1, 1, $2)",
        payload.counter,
        payload.n,
    )


def cli(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "services.operator", *args, "--bootstrap", KAFKA_BOOTSTRAP],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"},
    )
    return out.stdout


async def start(sub: Subscription) -> KafkaBroker:
    broker = KafkaBroker(KAFKA_BOOTSTRAP, logger=None)
    sub.attach(broker)
    await broker.start()
    return broker


async def test_dead_letters_are_listed_with_their_reason_and_replayed_after_a_fix(
    pool: asyncpg.Pool, kafka_settings: KafkaSettings, topic_prefix: str, unique: str
) -> None:
    topic = topic_prefix + TOPIC
    await ensure_topics(kafka_settings, {TOPIC: 1})
    old_registry = EventRegistry()
    old_registry.register(Incremented)
    old = Subscription(
        name=f"old-{unique}",
        topics=[TOPIC],
        handlers={Incremented: apply_incremented},
        registry=old_registry,
        pool=lambda: pool,
        kafka=kafka_settings,
        max_message_bytes=10_000,
    )
    broker = await start(old)
    future = encode(
        Envelope(
            IncrementedV2.type_name(),
            "/kl/test",
            "counter-f",
            IncrementedV2(counter="counter-f", n=1, step=2).to_data(),
        )
    )
    too_big = encode(
        Envelope(
            Incremented.type_name(),
            "/kl/test",
            "counter-big",
            {"counter": "counter-big", "n": 1, "pad": "x" * 20_000},
        )
    )
    fine = encode(
        Envelope(
            Incremented.type_name(),
            "/kl/test",
            "counter-ok",
            Incremented(counter="counter-ok", n=1).to_data(),
        )
    )
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP)
    await producer.start()
    try:
        for wire in (future, too_big, fine):
            await producer.send_and_wait(
                topic, wire.value, key=wire.key, headers=list(wire.headers)
            )
    finally:
        await producer.stop()

    async def counters() -> set[str]:
        return {r["counter"] for r in await pool.fetch("SELECT counter FROM counter_view")}

    async def fine_applied() -> bool:
        return "counter-ok" in await counters()

    try:
        await wait_until(fine_applied, what="the good message after the bad ones")
    finally:
        await broker.stop()

    listing = await asyncio.to_thread(cli, "dlt", "list", topic)
    assert "FutureSchemaError" in listing
    assert "knows dk.kl.test.counter.incremented up to v1" in listing
    assert "MessageTooLargeError" in listing

    # The fix: a release whose registry knows v2. Replay, and the event is applied.
    new_registry = EventRegistry()
    new_registry.register(Incremented)
    new_registry.register(IncrementedV2)
    new = Subscription(
        name=f"old-{unique}",
        topics=[TOPIC],
        handlers={Incremented: apply_incremented, IncrementedV2: apply_v2},
        registry=new_registry,
        pool=lambda: pool,
        kafka=kafka_settings,
        max_message_bytes=10_000,
    )
    broker = await start(new)
    try:
        replayed = await asyncio.to_thread(cli, "dlt", "replay", topic, "--offset", "0")
        assert "replayed 1 message" in replayed

        async def v2_applied() -> bool:
            return "counter-f" in await counters()

        await wait_until(v2_applied, what="the replayed v2 event")
    finally:
        await broker.stop()
    assert await counters() == {"counter-ok", "counter-f"}
