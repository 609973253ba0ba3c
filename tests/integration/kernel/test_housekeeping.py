"""Housekeeping: idempotency records, published outbox rows and processed event ids go
after their horizons (measured with an injected clock), and nothing else goes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import pytest

from services.kernel import idempotency
from services.kernel.clock import ManualClock
from services.kernel.db import create_pool, migrate
from services.kernel.eventstore import MIGRATIONS, EventStore, NewEvent
from services.kernel.housekeeping import Housekeeping, HousekeepingSettings, Swept
from tests.integration.kernel.conftest import TOPIC


@pytest.fixture
async def pool(fresh_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fresh_dsn, [*MIGRATIONS, *idempotency.MIGRATIONS], max_size=10)
    try:
        yield pool
    finally:
        await pool.close()


async def database_now(pool: asyncpg.Pool) -> datetime:
    now: datetime = await pool.fetchval("SELECT now()")
    return now


async def counts(pool: asyncpg.Pool) -> tuple[int, int, int, int]:
    """(idempotency records, published outbox rows, unpublished ones, processed ids)."""
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM idempotency_keys) AS idem,
                  (SELECT count(*) FROM outbox WHERE published_at IS NOT NULL) AS published,
                  (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unpublished,
                  (SELECT count(*) FROM processed_events) AS processed"""
    )
    return (row["idem"], row["published"], row["unpublished"], row["processed"])


async def fill(pool: asyncpg.Pool, *, published: int, unpublished: int, processed: int) -> None:
    store = EventStore(source="/kl/test")
    async with pool.acquire() as conn, conn.transaction():
        await idempotency.remember(
            conn, idempotency.scope("test:join", "sub-1"), "key-1", "hash", 201, resource_id="x"
        )
        for n in range(published + unpublished):
            await store.append(
                conn,
                stream_id=f"counter-{n}",
                expected_version=0,
                events=[NewEvent("dk.kl.test.counter.incremented.v1", {"counter": "c", "n": n})],
                topic=TOPIC,
            )
        await conn.execute(
            """UPDATE outbox SET published_at = now()
               WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT $1)""",
            published,
        )
        await conn.execute(
            """INSERT INTO processed_events (consumer, event_id)
               SELECT 'test-consumer', gen_random_uuid() FROM generate_series(1, $1)""",
            processed,
        )


async def test_each_table_is_swept_after_its_own_horizon_and_not_before(
    pool: asyncpg.Pool,
) -> None:
    await fill(pool, published=3, unpublished=2, processed=4)
    written = await database_now(pool)
    clock = ManualClock(written)
    keeper = Housekeeping(lambda: pool, HousekeepingSettings(), clock=clock)

    clock.set(written + timedelta(hours=23))
    assert await keeper.sweep() == Swept(0, 0, 0)
    assert await counts(pool) == (1, 3, 2, 4)

    clock.set(written + timedelta(hours=24, seconds=1))
    assert await keeper.sweep() == Swept(1, 0, 0), "a day: the idempotency record goes"

    clock.set(written + timedelta(days=7, seconds=1))
    assert await keeper.sweep() == Swept(0, 3, 0), "a week: the published outbox rows go"
    assert await counts(pool) == (0, 0, 2, 4), "unpublished rows stay, however old"

    clock.set(written + timedelta(days=60, seconds=1))
    assert await keeper.sweep() == Swept(0, 0, 4)
    assert await counts(pool) == (0, 0, 2, 0)

    async with pool.acquire() as conn:
        await idempotency.remember(conn, "test|sub-2", "key-2", "hash", 201, body={"id": "y"})
    never = HousekeepingSettings(idempotency_hours=0, outbox_published_days=0)
    clock.set(written + timedelta(days=3650))
    assert await Housekeeping(lambda: pool, never, clock=clock).sweep() == Swept(0, 0, 0)


async def test_several_instances_sweeping_at_once_delete_each_row_once(
    pool: asyncpg.Pool,
) -> None:
    await fill(pool, published=12_000, unpublished=0, processed=12_000)
    clock = ManualClock(await database_now(pool) + timedelta(days=61))
    keepers = [Housekeeping(lambda: pool, HousekeepingSettings(), clock=clock) for _ in range(3)]

    rounds = await asyncio.gather(*(k.sweep() for k in keepers))
    done = [r for r in rounds if r is not None]
    assert done, "one instance at least swept"
    while await counts(pool) != (0, 0, 0, 0):  # those that gave way sweep in a later round
        later = await keepers[0].sweep()
        assert later is not None
        done.append(later)
    assert sum(r.outbox for r in done) == 12_000
    assert sum(r.processed_events for r in done) == 12_000
    assert sum(r.idempotency_keys for r in done) == 1


async def test_a_replay_with_the_same_key_and_caller_finds_the_record_until_it_is_swept(
    pool: asyncpg.Pool,
) -> None:
    scope = idempotency.scope("test:join", "coordinator-101")
    async with pool.acquire() as conn, conn.transaction():
        assert await idempotency.begin(conn, scope, "k", "h") is None
        await idempotency.remember(conn, scope, "k", "h", 201, resource_id="membership-1")
    async with pool.acquire() as conn, conn.transaction():
        stored = await idempotency.begin(conn, scope, "k", "h")
        other = await idempotency.begin(conn, idempotency.scope("test:join", "other"), "k", "h")
    assert stored == idempotency.StoredResponse(201, "membership-1", None)
    assert other is None, "another caller's key is another key"
    clock = ManualClock(await database_now(pool) + timedelta(hours=25))
    await Housekeeping(lambda: pool, HousekeepingSettings(), clock=clock).sweep()
    async with pool.acquire() as conn, conn.transaction():
        assert await idempotency.begin(conn, scope, "k", "h") is None


async def test_the_migration_forgets_the_records_stored_with_personal_data(
    fresh_dsn: str,
) -> None:
    """Records of before held whole answers (a join's contact person in clear): the
    migration that gives records a resource id deletes them all."""
    conn = await asyncpg.connect(fresh_dsn)
    try:
        await migrate(conn, idempotency.MIGRATIONS[:1])
        await conn.execute(
            """INSERT INTO idempotency_keys (scope, key, request_hash, status, body)
               VALUES ('membership:join', 'k', 'h', 201,
                       '{"contact_name": "Mette Hansen", "contact_email": "mette.hansen@kk.dk"}')"""
        )
        await migrate(conn, idempotency.MIGRATIONS)
        assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
        columns = {
            r["column_name"]
            for r in await conn.fetch(
                """SELECT column_name FROM information_schema.columns
                   WHERE table_name = 'idempotency_keys'"""
            )
        }
        assert "resource_id" in columns
    finally:
        await conn.close()
