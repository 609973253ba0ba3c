"""A one-shot replay (rebuild) must see every committed event, whatever else the server runs.

``read_all``'s horizon is ``pg_snapshot_xmin``, which is cluster-wide: a transaction left
open in ANOTHER database holds it back. A rebuild that read through it stopped short and
dropped the newest events (found by tests/e2e/operations while a benchmark held a long
transaction open); rebuilds now read with ``read_snapshot`` in one REPEATABLE READ snapshot.
"""

from __future__ import annotations

import asyncpg

from services.kernel.eventstore import Cursor, EventStore, NewEvent
from tests.integration.kernel.conftest import TOPIC, Incremented
from tests.support.stack import ADMIN_DSN


async def test_a_transaction_open_elsewhere_does_not_hide_committed_events_from_a_rebuild(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    elsewhere = await asyncpg.connect(ADMIN_DSN)  # another database on the same server
    try:
        async with elsewhere.transaction():
            await elsewhere.fetchval("SELECT pg_current_xact_id()")  # holds the xmin horizon
            async with pool.acquire() as conn:
                await store.append(
                    conn,
                    stream_id="counter-a",
                    expected_version=0,
                    events=[NewEvent(Incremented.type_name(), {"counter": "a", "n": 1})],
                    topic=TOPIC,
                )
                # The tailing reader waits for the horizon, as it must ...
                assert await store.read_all(conn, Cursor()) == []
                # ... the snapshot reader sees what is committed.
                async with conn.transaction(isolation="repeatable_read"):
                    seen = await store.read_snapshot(conn)
                assert [(e.stream_id, e.version) for e in seen] == [("counter-a", 1)]
    finally:
        await elsewhere.close()
