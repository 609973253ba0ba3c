"""Operator tasks on the events service's database, without a running service.

Used by the operator CLI: seed the demo, rebuild the read models (with progress). Both
need only PostgreSQL; events written here wait in the outbox until the service's relay runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg

from services.events.adapters.demo import seed_demo
from services.events.adapters.projections.rebuild import rebuild
from services.events.adapters.streams import PostgresMeetingStreams
from services.events.bootstrap import MIGRATIONS, SOURCE
from services.events.config import Settings
from services.events.entrypoints.subscribers import PROJECTIONS_CONSUMER
from services.events.service_layer.batching import MeetingService
from services.kernel.clock import clock_from_setting
from services.kernel.db import create_pool
from services.kernel.eventstore import MIGRATIONS as STORE_MIGRATIONS
from services.kernel.eventstore import EventStore
from services.kernel.idempotency import MIGRATIONS as IDEMPOTENCY_MIGRATIONS
from services.kernel.privacy import Vault


@asynccontextmanager
async def _pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(
        settings.database_url, [*STORE_MIGRATIONS, *IDEMPOTENCY_MIGRATIONS, *MIGRATIONS]
    )
    try:
        yield pool
    finally:
        await pool.close()


async def seed_database(settings: Settings | None = None) -> bool:
    """Seed the demo meeting once; True if it was made now.

    The clock is the service's (``EVENTS_CLOCK_AS_OF`` for the demo's 19 November 2021).
    """
    settings = settings or Settings()
    async with _pool(settings) as pool:
        meetings = MeetingService(PostgresMeetingStreams(lambda: pool, EventStore(SOURCE)))
        return await seed_demo(meetings, clock_from_setting(settings.clock_as_of))


async def rebuild_database(
    settings: Settings | None = None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Rebuild the read models from the event store; the number of events replayed.

    Safe while the service runs: the rebuild marks what it replayed as processed by the
    service's projection subscriber (see ``projections.rebuild``).
    """
    settings = settings or Settings()
    async with _pool(settings) as pool:
        consumer = settings.kafka.topic_prefix + PROJECTIONS_CONSUMER
        vault = Vault(settings.privacy)
        try:
            return await rebuild(pool, EventStore(SOURCE), consumer, vault, progress)
        finally:
            await vault.close()
