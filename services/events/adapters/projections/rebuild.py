"""Rebuilding the read models from the event store, while the service runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg

from services.events.adapters.projections import writer
from services.events.adapters.projections.migrations import PROJECTION_TABLES, READ_MODELS_GUARD
from services.kernel.db import exclusively, lock_tables
from services.kernel.eventstore import EventStore
from services.kernel.privacy import Vault

REBUILD_PAGE = 5_000


async def _replay_page(
    conn: asyncpg.Connection, after_position: int, limit: int
) -> list[asyncpg.Record]:
    """(position, event_type, data) after a position, in the caller's snapshot.

    :meth:`EventStore.read_snapshot` with only the columns a rebuild needs: building a
    full ``RecordedEvent`` (metadata, time, transaction id) for a million events costs more
    than applying them.
    """
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT position, event_type, data FROM events
           WHERE position > $1 ORDER BY position LIMIT $2""",
        after_position,
        limit,
    )
    return rows


async def rebuild(
    pool: asyncpg.Pool,
    store: EventStore,
    consumer: str,
    vault: Vault,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rebuild the read models from the event store, while the service runs; return events.

    One transaction: lock the read models (the subscriber waits), empty them, replay every
    event with the same :func:`.writer.apply_many`, page by page (pages of
    ``REBUILD_PAGE`` events, so memory stays flat however long the history), and record
    every replayed event as processed by ``consumer``, so the subscriber does not apply
    again what the rebuild already did. ``progress`` is called with (events replayed, events in all)
    for a progress bar.
    """
    count = 0
    done = 0
    # One snapshot for every page (see EventStore.read_snapshot): read_all's cluster-wide
    # horizon would stop short while any long transaction runs on the server, and the
    # events past it, already consumed, would never come back.
    #
    # Writers of the read models (the meetings and privacy subscribers) are kept out by
    # the guard, taken before the transaction: one of them holding participant_view while
    # it waits for meeting_view, or a processed_events row the final INSERT needs, would
    # otherwise deadlock with this rebuild. Readers are given way to (see lock_tables).
    async with (
        pool.acquire() as conn,
        exclusively(conn, READ_MODELS_GUARD),
        conn.transaction(isolation="repeatable_read"),
    ):
        await lock_tables(conn, PROJECTION_TABLES)
        total: int = await conn.fetchval("SELECT count(*) FROM events")
        snapshot: str = await conn.fetchval("SELECT pg_export_snapshot()")
        await conn.execute(f"TRUNCATE {', '.join(PROJECTION_TABLES)}")
        await conn.execute("ALTER SEQUENCE participant_wait_seq RESTART")
        await conn.execute("DELETE FROM processed_events WHERE consumer = $1", consumer)
        # The participant list's secondary indexes are built once at the end (a sort)
        # rather than kept up to date row by row through the COPY of every page.
        indexes = await _drop_secondary_indexes(conn, "participant_view")
        # Pages are read on a second connection in the same snapshot, one page ahead: the
        # next page travels and is decoded while this connection's COPY of the last one
        # is still being written by the server.
        async with (
            pool.acquire() as reader,
            reader.transaction(isolation="repeatable_read", readonly=True),
        ):
            await reader.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            ahead = asyncio.ensure_future(_replay_page(reader, 0, REBUILD_PAGE))
            try:
                while page := await ahead:
                    ahead = asyncio.ensure_future(_replay_page(reader, page[-1][0], REBUILD_PAGE))
                    count += await writer.apply_many(
                        conn, ((r[1], r[2]) for r in page), vault=vault, refresh=False, copy=True
                    )
                    done += len(page)
                    if progress is not None:
                        progress(done, max(total, done))
            finally:
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ahead
        for definition in indexes:
            await conn.execute(definition)
        # Every event of the snapshot was replayed: all of them are processed, in one
        # statement on the server. This consumer's rows were deleted above, and the
        # subscriber cannot commit a meetings event while the read models are locked, so
        # no row can conflict.
        await conn.execute(
            "INSERT INTO processed_events (consumer, event_id) SELECT $1, event_id FROM events",
            consumer,
        )
        await writer.refresh_availability(conn)
    return count


async def _drop_secondary_indexes(conn: asyncpg.Connection, table: str) -> list[str]:
    """Drop the indexes of ``table`` other than its primary key (inside the caller's
    transaction, under its lock); their definitions, to create them again."""
    rows = await conn.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
           FROM pg_index i WHERE i.indrelid = $1::regclass AND NOT i.indisprimary""",
        table,
    )
    for row in rows:
        await conn.execute(f"DROP INDEX {row['name']}")
    return [row["def"] for row in rows]
