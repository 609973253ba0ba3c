"""The event store's promises, against the real PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.kernel.eventstore import (
    Cursor,
    EventStore,
    NewEvent,
    RecordedEvent,
    StreamVersionConflictError,
)
from tests.integration.kernel.conftest import TOPIC, Incremented
from tests.support.waiting import wait_until


def inc(counter: str, n: int) -> NewEvent:
    return NewEvent(Incremented.type_name(), Incremented(counter=counter, n=n).to_data())


async def test_two_writers_at_the_same_version_exactly_one_wins(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    await store.append(
        pool_conn := await pool.acquire(),
        stream_id="c-1",
        expected_version=0,
        events=[inc("c-1", 1)],
        topic=TOPIC,
    )
    await pool.release(pool_conn)
    barrier = asyncio.Barrier(2)

    async def writer(n: int) -> str:
        async with pool.acquire() as conn, conn.transaction():
            await barrier.wait()
            try:
                await store.append(
                    conn, stream_id="c-1", expected_version=1, events=[inc("c-1", n)], topic=TOPIC
                )
            except StreamVersionConflictError:
                return "conflict"
            return "won"

    results = await asyncio.gather(writer(2), writer(3))
    assert sorted(results) == ["conflict", "won"]
    events = await store.read_stream(pool, "c-1")
    assert [e.version for e in events] == [1, 2]
    outbox = await pool.fetchval("SELECT count(*) FROM outbox")
    assert outbox == 2, "the loser wrote nothing, not even to the outbox"


async def test_a_conflict_leaves_nothing_of_the_batch(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    async with pool.acquire() as conn:
        await store.append(
            conn,
            stream_id="c-2",
            expected_version=0,
            events=[inc("c-2", 1), inc("c-2", 2)],
            topic=TOPIC,
        )
        with pytest.raises(StreamVersionConflictError):
            await store.append(
                conn,
                stream_id="c-2",
                expected_version=1,
                events=[inc("c-2", 2), inc("c-2", 3)],
                topic=TOPIC,
            )
    assert await store.stream_version(pool, "c-2") == 2
    assert await pool.fetchval("SELECT count(*) FROM events") == 2
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2


async def test_read_all_does_not_skip_an_event_that_commits_late(
    pool: asyncpg.Pool, store: EventStore
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
    late_pos = await slow.fetchval("SELECT position FROM events WHERE stream_id = 'late'")
    # The late event holds the lower position, but its transaction is still open.
    first = await store.read_all(pool, Cursor())
    assert [e.stream_id for e in first] == []  # nothing is safe to read past an open tx
    await tx.commit()
    await pool.release(slow)

    # The safe horizon is cluster-wide: a transaction another test or service has open
    # right now holds it back for a moment. Eventually both are read, the late one too.
    async def both() -> list[RecordedEvent]:
        events = await store.read_all(pool, Cursor())
        return events if len(events) == 2 else []

    everything = await wait_until(both, timeout=30, what="both events readable")
    assert {e.stream_id for e in everything} == {"late", "early"}
    assert next(e for e in everything if e.stream_id == "late").position == late_pos

    # A reader that had already moved past the early event still gets the late one.
    cursor = store.cursor_after(everything[-1])
    seen: list[str] = []
    slow2 = await pool.acquire()
    tx2 = slow2.transaction()
    await tx2.start()
    await store.append(
        slow2, stream_id="late2", expected_version=0, events=[inc("late2", 1)], topic=TOPIC
    )
    async with pool.acquire() as conn:
        await store.append(
            conn, stream_id="early2", expected_version=0, events=[inc("early2", 1)], topic=TOPIC
        )

    async def read_on() -> bool:
        nonlocal cursor
        for event in await store.read_all(pool, cursor):
            seen.append(event.stream_id)
            cursor = store.cursor_after(event)
        return len(seen) >= 2

    assert not await read_on()
    await tx2.commit()
    await pool.release(slow2)
    await wait_until(read_on, timeout=30, what="the late event after the early one")
    assert sorted(seen) == ["early2", "late2"]


async def test_read_stream_returns_versions_in_order_with_data(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    async with pool.acquire() as conn:
        for v in range(1, 6):
            await store.append(
                conn, stream_id="c-3", expected_version=v - 1, events=[inc("c-3", v)], topic=TOPIC
            )
    events = await store.read_stream(pool, "c-3", after_version=2)
    assert [e.version for e in events] == [3, 4, 5]
    assert [e.data["n"] for e in events] == [3, 4, 5]
    assert all(e.type == "dk.kl.test.counter.incremented.v1" for e in events)
