"""Rebuilding the notification feed from the event store, while the service runs."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from services.kernel.privacy import Vault
from services.notifications.adapters import postgres as db


async def rebuild_feed(
    pool: asyncpg.Pool, vault: Vault, progress: Callable[[int, int], None] | None = None
) -> int:
    """Empty the feed and replay every notification event into it; return how many.

    One transaction: TRUNCATE locks the feed, so a worker that records a new event waits
    for the rebuild and then applies its own change; every event committed before it is
    replayed here. TRUNCATE's lock makes readers of the feed wait for the rebuild too.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("TRUNCATE notification_feed")
        types = list(db.FEED_STATUS)
        total: int = await conn.fetchval(
            "SELECT count(*) FROM events WHERE event_type = ANY($1::text[])", types
        )
        done = 0
        async for row in conn.cursor(
            """SELECT event_type, data FROM events WHERE event_type = ANY($1::text[])
               ORDER BY position""",
            types,
        ):
            await db.apply_to_feed(conn, row["event_type"], row["data"], vault)
            done += 1
            if progress is not None and done % 500 == 0:
                progress(done, total)
        if progress is not None:
            progress(done, total)
        return done
