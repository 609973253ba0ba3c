"""Rebuilding the outreach's read models while the service runs.

- The lists and invitations from the service's own event store (one snapshot).
- The meeting facts from the meetings topic, read from its beginning to its end (the events
  service's store is not ours to read; the topic is what every subscriber shares). The
  topic keeps what its retention keeps: a deployment that wants the statistics of meetings
  older than that keeps ``kl.events.meetings`` longer (docs/privacy.md, Housekeeping).

Each rebuild holds the subscription's guard exclusively (``services.kernel.db``): no
transaction of the subscriber is half done while it runs, and the subscriber waits for it.
Whatever it applied is recorded as processed by the subscriber, so a copy the subscriber
still holds is skipped; whatever reaches the topic later, the subscriber applies after it.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from contracts.catalog import registry
from contracts.envelope import EnvelopeError, decode
from contracts.meetings import MEETING_TOPIC
from services.kernel.db import exclusively
from services.kernel.deadletters import read_all
from services.kernel.eventstore import EventStore
from services.kernel.kafka import KafkaSettings
from services.membership.adapters.outreach_views import (
    FACT_TABLE,
    OWN_TABLES,
    Consumed,
    apply,
    is_own,
    mark_processed,
)

GUARD = "membership-outreach"
"""The advisory lock the outreach subscription takes shared, and a rebuild exclusively."""

Progress = Callable[[int], None]


async def rebuild_from_event_store(
    pool: asyncpg.Pool,
    store: EventStore,
    consumer: str,
    progress: Progress | None = None,
    batch: int = 1000,
) -> int:
    """The lists and invitations again from the event store; the events applied."""
    applied = 0
    # One snapshot for every page, taken once the guard is held: everything committed
    # before it is replayed; what commits later reaches the subscriber through Kafka.
    async with (
        pool.acquire() as conn,
        exclusively(conn, GUARD),
        conn.transaction(isolation="repeatable_read"),
    ):
        for table in OWN_TABLES:
            await conn.execute(f"DELETE FROM {table}")
        position = 0
        while events := await store.read_snapshot(conn, position, limit=batch):
            own = []
            for recorded in events:
                payload = registry.parse(recorded.type, recorded.data)
                if is_own(payload):
                    own.append(Consumed(recorded.id, payload))
            applied += await _flush(conn, consumer, own)
            position = events[-1].position
            if progress is not None:
                progress(applied)
    return applied


async def rebuild_meeting_facts(
    pool: asyncpg.Pool,
    kafka: KafkaSettings,
    consumer: str,
    progress: Progress | None = None,
    batch: int = 1000,
) -> int:
    """The meeting facts again from the meetings topic; the events applied."""
    applied = 0
    # The guard first, then the topic's end: whatever the subscriber applied is before that
    # end (it is read here again), and what comes after waits for the subscriber.
    async with pool.acquire() as conn, exclusively(conn, GUARD), conn.transaction():
        await conn.execute(f"DELETE FROM {FACT_TABLE}")
        pending: list[Consumed] = []
        async for record in read_all(kafka, kafka.topic(MEETING_TOPIC)):
            headers = [(k, bytes(v)) for k, v in record.headers]
            try:
                envelope = decode(record.key, headers, record.value or b"")
                payload = registry.parse(envelope.type, envelope.data)
            except (EnvelopeError, LookupError, ValueError):
                continue  # the subscriber dead-lettered it; the rebuild leaves it out too
            pending.append(Consumed(envelope.id, payload, record.partition, record.offset))
            if len(pending) >= batch:
                applied += await _flush(conn, consumer, pending)
                pending = []
                if progress is not None:
                    progress(applied)
        applied += await _flush(conn, consumer, pending)
    if progress is not None:
        progress(applied)
    return applied


async def _flush(conn: asyncpg.Connection, consumer: str, pending: list[Consumed]) -> int:
    applied = await apply(conn, pending)
    await mark_processed(conn, consumer, [c.event_id for c in pending])
    return applied
