"""Outbox relay and subscriber runtime against the real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import decode
from services.kernel.eventstore import EventStore, NewEvent
from services.kernel.kafka import KafkaSettings, dead_letter_topic
from services.kernel.outbox import OutboxRelay, unpublished_count
from services.kernel.subscriber import DLT_ERROR, InboundEvent, Subscription
from tests.integration.kernel.conftest import TOPIC, Incremented
from tests.support.kafka import create_topics, read_topic
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until


def inc(counter: str, n: int) -> NewEvent:
    return NewEvent(Incremented.type_name(), Incremented(counter=counter, n=n).to_data())


async def append_counters(pool: asyncpg.Pool, store: EventStore, counters: int, each: int) -> None:
    """Append ``each`` events to each of ``counters`` streams, interleaved, 10 per append."""
    async with pool.acquire() as conn:
        for start in range(0, each, 10):
            for c in range(counters):
                await store.append(
                    conn,
                    stream_id=f"counter-{c}",
                    expected_version=start,
                    events=[inc(f"counter-{c}", n) for n in range(start + 1, start + 11)],
                    topic=TOPIC,
                )


@pytest.fixture
async def relay(fresh_dsn: str, kafka_settings: KafkaSettings) -> AsyncIterator[OutboxRelay]:
    relay = OutboxRelay(fresh_dsn, kafka_settings, poll_interval=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield relay
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def relay_process(
    dsn: str, prefix: str, *extra: str, module: str = "services.kernel.outbox"
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            module,
            "--dsn",
            dsn,
            "--bootstrap",
            KAFKA_BOOTSTRAP,
            "--topic-prefix",
            prefix,
            "--batch-size",
            "200",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def applied_counts(pool: asyncpg.Pool) -> dict[str, tuple[int, int]]:
    rows = await pool.fetch("SELECT counter, applied, out_of_order FROM counter_view")
    return {r["counter"]: (r["applied"], r["out_of_order"]) for r in rows}


async def test_relay_killed_mid_batch_loses_nothing_and_keeps_stream_order(
    pool: asyncpg.Pool,
    store: EventStore,
    fresh_dsn: str,
    topic_prefix: str,
    projection: Subscription,
) -> None:
    counters, each = 20, 100
    total = counters * each
    await create_topics(topic_prefix + TOPIC)
    await append_counters(pool, store, counters, each)

    # First run: SIGKILL after Kafka acknowledged the 3rd batch, before it is marked.
    crashing = relay_process(
        fresh_dsn,
        topic_prefix,
        "--crash-after-batches",
        "3",
        module="tests.support.crashing_relay",
    )
    assert await asyncio.to_thread(crashing.wait, 60) == -signal.SIGKILL
    left = await unpublished_count(pool)
    assert total - 3 * 200 < left <= total - 2 * 200, "3rd batch sent but not marked"

    restarted = relay_process(fresh_dsn, topic_prefix)
    try:
        await wait_until(lambda: _none_unpublished(pool), timeout=60, what="all published")
    finally:
        restarted.terminate()
        await asyncio.to_thread(restarted.wait, 20)

    records = await read_topic(topic_prefix + TOPIC, expect=total + 200, timeout=30)
    assert len(records) == total + 200, "the unmarked batch was published twice, no more"
    first_seen: dict[str, list[int]] = defaultdict(list)
    seen_ids: set[str] = set()
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        envelope = decode(record.key, record.headers, record.value)
        if str(envelope.id) in seen_ids:
            continue
        seen_ids.add(str(envelope.id))
        first_seen[envelope.subject].append(envelope.data["n"])
    assert len(seen_ids) == total
    assert all(ns == list(range(1, each + 1)) for ns in first_seen.values()), "stream order"

    async def all_applied() -> bool:
        counts = await applied_counts(pool)
        return len(counts) == counters and all(a == each for a, _ in counts.values())

    await wait_until(all_applied, timeout=60, what="projection caught up")
    counts = await applied_counts(pool)
    assert all(applied == each and ooo == 0 for applied, ooo in counts.values()), counts


async def _none_unpublished(pool: asyncpg.Pool) -> bool:
    return await unpublished_count(pool) == 0


async def test_an_event_that_commits_late_is_still_published_and_consumed(
    pool: asyncpg.Pool, store: EventStore, relay: OutboxRelay, projection: Subscription
) -> None:
    slow = await pool.acquire()
    tx = slow.transaction()
    await tx.start()
    await store.append(
        slow, stream_id="late", expected_version=0, events=[inc("late", 1)], topic=TOPIC
    )
    async with pool.acquire() as conn:
        await store.append(
            conn, stream_id="early", expected_version=0, events=[inc("early", 1)], topic=TOPIC
        )

    async def has(counter: str) -> bool:
        return counter in await applied_counts(pool)

    await wait_until(lambda: has("early"), what="early event consumed")
    late_id = await slow.fetchval("SELECT id FROM outbox WHERE key = 'late'::bytea")
    early_id = await pool.fetchval("SELECT id FROM outbox WHERE key = 'early'::bytea")
    assert late_id < early_id, "the late event holds the lower outbox id"
    await tx.commit()
    await pool.release(slow)
    await wait_until(lambda: has("late"), what="late event consumed")


async def test_a_malformed_message_is_dead_lettered_and_the_next_is_consumed(
    pool: asyncpg.Pool,
    store: EventStore,
    relay: OutboxRelay,
    projection: Subscription,
    topic_prefix: str,
) -> None:
    topic = topic_prefix + TOPIC
    await create_topics(topic, partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{not json", key=b"counter-x")
        await producer.send_and_wait(
            topic,
            b'{"counter": "counter-x"}',
            key=b"counter-x",
            headers=[
                ("ce_id", b"0b7f1f9a-3c2e-4f51-9d7a-2f5d8f0e9a11"),
                ("ce_type", Incremented.type_name().encode()),
                ("ce_source", b"/elsewhere"),
                ("ce_specversion", b"1.0"),
                ("content-type", b"application/json"),
            ],
        )
    finally:
        await producer.stop()
    async with pool.acquire() as conn:
        await store.append(
            conn,
            stream_id="counter-x",
            expected_version=0,
            events=[inc("counter-x", 1)],
            topic=TOPIC,
        )

    async def consumed() -> bool:
        return (await applied_counts(pool)).get("counter-x") == (1, 0)

    await wait_until(consumed, what="the valid event after the poison ones")
    dead = await read_topic(dead_letter_topic(topic), expect=2)
    reasons = [dict(r.headers)[DLT_ERROR].decode() for r in dead]
    assert "missing CloudEvents header" in reasons[0]
    assert "PayloadInvalidError" in reasons[1]
    assert "n" in reasons[1]
    assert dead[0].value == b"{not json"


async def test_a_redelivered_event_has_no_second_effect(
    pool: asyncpg.Pool,
    store: EventStore,
    relay: OutboxRelay,
    projection: Subscription,
    topic_prefix: str,
) -> None:
    async with pool.acquire() as conn:
        await store.append(
            conn,
            stream_id="counter-r",
            expected_version=0,
            events=[inc("counter-r", 1)],
            topic=TOPIC,
        )
    records = await read_topic(topic_prefix + TOPIC, expect=1)
    await wait_until(lambda: _applied(pool, "counter-r"), what="first delivery applied")
    # Deliver the very same record again, as Kafka does after a rebalance or crash.
    from faststream.kafka import KafkaBroker

    broker = KafkaBroker(KAFKA_BOOTSTRAP)
    await broker.connect()
    try:
        await projection.handle_record(broker, records[0])
    finally:
        await broker.stop()
    assert (await applied_counts(pool))["counter-r"] == (1, 0)


async def _applied(pool: asyncpg.Pool, counter: str) -> bool:
    return counter in await applied_counts(pool)


async def test_an_independent_client_reads_the_cloudevents_headers(
    pool: asyncpg.Pool, store: EventStore, relay: OutboxRelay, topic_prefix: str
) -> None:
    """kcat (librdkafka, not part of this project) sees a binary-mode CloudEvent."""
    async with pool.acquire() as conn:
        [recorded] = await store.append(
            conn,
            stream_id="counter-k",
            expected_version=0,
            events=[inc("counter-k", 7)],
            topic=TOPIC,
        )
    await wait_until(lambda: _none_unpublished(pool), what="published")
    out = await asyncio.to_thread(
        subprocess.run,
        [
            "kcat",
            "-b",
            KAFKA_BOOTSTRAP,
            "-C",
            "-t",
            topic_prefix + TOPIC,
            "-o",
            "beginning",
            "-c",
            "1",
            "-e",
            "-q",
            "-f",
            "%k|%h|%s\n",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    key, headers, value = out.stdout.strip().split("|")
    header_map = dict(h.split("=", 1) for h in headers.split(","))
    assert key == "counter-k"
    assert header_map["ce_id"] == str(recorded.id)
    assert header_map["ce_type"] == "dk.kl.test.counter.incremented.v1"
    assert header_map["ce_source"] == "/kl/test"
    assert header_map["ce_specversion"] == "1.0"
    assert header_map["ce_subject"] == "counter-k"
    assert header_map["content-type"] == "application/json"
    assert "ce_time" in header_map
    assert '"n":7' in value.replace(" ", "")


async def test_the_correlation_id_travels_from_the_command_through_kafka_to_the_consumer(
    pool: asyncpg.Pool,
    store: EventStore,
    relay: OutboxRelay,
    kafka_settings: KafkaSettings,
    unique: str,
) -> None:
    from faststream.kafka import KafkaBroker

    from services.kernel.kafka import ensure_topics
    from services.kernel.logging import correlation, current_correlation_id
    from tests.integration.kernel.conftest import test_registry

    seen: list[tuple[str | None, str | None]] = []

    async def remember(_: asyncpg.Connection, event: InboundEvent) -> None:
        seen.append((current_correlation_id(), event.envelope.correlation_id))

    sub = Subscription(
        name=f"corr-{unique}",
        topics=[TOPIC],
        handlers={Incremented: remember},
        registry=test_registry,
        pool=lambda: pool,
        kafka=kafka_settings,
    )
    await ensure_topics(kafka_settings, {TOPIC: 3})
    broker = KafkaBroker(KAFKA_BOOTSTRAP, logger=None)
    sub.attach(broker)
    await broker.start()
    try:
        with correlation("req-42"):
            async with pool.acquire() as conn:
                [recorded] = await store.append(
                    conn,
                    stream_id="counter-c",
                    expected_version=0,
                    events=[inc("counter-c", 1)],
                    topic=TOPIC,
                )
        assert recorded.metadata["correlation_id"] == "req-42"

        async def arrived() -> bool:
            return bool(seen)

        await wait_until(arrived, what="event consumed")
    finally:
        await broker.stop()
    assert seen == [("req-42", "req-42")]
