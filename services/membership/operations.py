"""Operator tasks on the membership service's database, without a running service.

Used by the operator CLI: rebuild the read models the outreach and the statistics are
computed from (the roster, the lists and invitations from the event store, the meeting
facts from the meetings topic). Safe while the service runs (see ``outreach_rebuild``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from services.kernel.db import create_pool
from services.kernel.eventstore import MIGRATIONS as STORE_MIGRATIONS
from services.kernel.eventstore import EventStore
from services.kernel.idempotency import MIGRATIONS as IDEMPOTENCY_MIGRATIONS
from services.membership.adapters import outreach_views, roster
from services.membership.adapters.outreach_rebuild import (
    rebuild_from_event_store,
    rebuild_meeting_facts,
)
from services.membership.adapters.streams import SOURCE
from services.membership.config import Settings
from services.membership.entrypoints.outreach_subscribers import OUTREACH_CONSUMER


@asynccontextmanager
async def _pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    migrations = [
        *STORE_MIGRATIONS,
        *IDEMPOTENCY_MIGRATIONS,
        *roster.MIGRATIONS,
        *outreach_views.MIGRATIONS,
    ]
    pool = await create_pool(settings.database_url, migrations)
    try:
        yield pool
    finally:
        await pool.close()


@dataclass(frozen=True)
class Rebuilt:
    """How many events each part of the rebuild applied."""

    memberships: int
    lists_and_invitations: int
    meeting_events: int


async def rebuild_outreach(
    settings: Settings | None = None, progress: Callable[[str, int], None] | None = None
) -> Rebuilt:
    """Rebuild the roster and the outreach's read models; ``progress(part, applied)``."""
    settings = settings or Settings()
    consumer = settings.kafka.topic_prefix + OUTREACH_CONSUMER
    store = EventStore(SOURCE)

    def step(part: str) -> Callable[[int], None] | None:
        return None if progress is None else (lambda n: progress(part, n))

    async with _pool(settings) as pool:
        memberships = await roster.rebuild(pool, store)
        own = await rebuild_from_event_store(pool, store, consumer, step("lists"))
        facts = await rebuild_meeting_facts(pool, settings.kafka, consumer, step("meetings"))
    return Rebuilt(memberships, own, facts)
