"""The event store's promises, against the real PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from contracts.envelope import decode
from services.kernel.eventstore import (
    Append,
    Cursor,
    EventStore,
    NewEvent,
    RecordedEvent,
    StreamVersionConflictError,
)
from services.kernel.logging import correlation
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


async def test_append_many_writes_many_streams_in_order_with_their_own_causes(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    async with pool.acquire() as conn:
        await store.append(
            conn, stream_id="m-1", expected_version=0, events=[inc("m-1", 1)], topic=TOPIC
        )
        with correlation("the-request"):
            recorded = await store.append_many(
                conn,
                [
                    Append("m-1", 1, [inc("m-1", 2), inc("m-1", 3)], TOPIC, causation_id="a"),
                    Append("m-2", 0, [inc("m-2", 1)], TOPIC, causation_id="b"),
                    Append("m-3", 0, [], TOPIC),
                    Append("m-4", 0, [inc("m-4", 1)], "kernel.other", correlation_id="own"),
                ],
            )
    assert [[(e.stream_id, e.version) for e in r] for r in recorded] == [
        [("m-1", 2), ("m-1", 3)],
        [("m-2", 1)],
        [],
        [("m-4", 1)],
    ]
    positions = [e.position for r in recorded for e in r]
    assert positions == sorted(positions), "positions follow the order of the appends"
    assert [(e.metadata["causation_id"], e.metadata["correlation_id"]) for r in recorded
            for e in r] == [("a", "the-request"), ("a", "the-request"), ("b", "the-request"),
                            (None, "own")]  # fmt: skip
    outbox = await pool.fetch("SELECT event_id, topic, key, headers, value FROM outbox ORDER BY id")
    assert [r["event_id"] for r in outbox[1:]] == [e.id for r in recorded for e in r]
    assert [r["topic"] for r in outbox[1:]] == [TOPIC, TOPIC, TOPIC, "kernel.other"]
    wire = [
        decode(r["key"], [(k, v.encode()) for k, v in r["headers"].items()], r["value"])
        for r in outbox[1:]
    ]
    assert [(w.subject, w.causation_id, w.correlation_id) for w in wire] == [
        ("m-1", "a", "the-request"),
        ("m-1", "a", "the-request"),
        ("m-2", "b", "the-request"),
        ("m-4", None, "own"),
    ]
    assert await store.stream_versions(pool, ["m-1", "m-2", "m-3", "m-4"]) == {
        "m-1": 3,
        "m-2": 1,
        "m-3": 0,
        "m-4": 1,
    }


async def test_append_many_with_one_stale_stream_writes_nothing_and_names_that_stream(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    async with pool.acquire() as conn:
        await store.append(
            conn, stream_id="s, 1", expected_version=0, events=[inc("s", 1)], topic=TOPIC
        )
        with pytest.raises(StreamVersionConflictError) as conflict:
            await store.append_many(
                conn,
                [
                    Append("fresh-1", 0, [inc("fresh-1", 1)], TOPIC),
                    Append("s, 1", 0, [inc("s", 1)], TOPIC),  # it is at version 1
                    Append("fresh-2", 0, [inc("fresh-2", 1)], TOPIC),
                ],
            )
    assert (conflict.value.stream_id, conflict.value.expected_version) == ("s, 1", 0)
    assert await pool.fetchval("SELECT count(*) FROM events") == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1


async def test_two_batches_racing_for_the_same_new_stream_exactly_one_wins(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    barrier = asyncio.Barrier(2)

    async def batch(own: str) -> str:
        async with pool.acquire() as conn, conn.transaction():
            await barrier.wait()
            try:
                await store.append_many(
                    conn,
                    [
                        Append(own, 0, [inc(own, 1)], TOPIC),
                        Append("shared", 0, [inc("shared", 1)], TOPIC),
                    ],
                )
            except StreamVersionConflictError as exc:
                return f"conflict on {exc.stream_id}"
            return "won"

    results = sorted(await asyncio.gather(batch("own-a"), batch("own-b")))
    assert results == ["conflict on shared", "won"]
    streams = {r[0] for r in await pool.fetch("SELECT stream_id FROM events")}
    assert streams in ({"own-a", "shared"}, {"own-b", "shared"}), "the loser wrote nothing"
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2
