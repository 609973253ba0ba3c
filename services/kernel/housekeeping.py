"""Housekeeping of a service's database: tables that would otherwise grow for ever.

Every ``interval_s`` one instance per database (a transaction-level advisory lock; the
others skip that round) deletes, in batches:

- ``idempotency_keys`` older than ``idempotency_hours`` (24 h): a client retries a request
  within minutes, and a record must not outlive the window it is for;
- ``outbox`` rows published more than ``outbox_published_days`` (7 days) ago: the relay
  reads only unpublished rows, so a published row is history (the benchmarks read
  ``published_at`` right after a run, hence days, not seconds);
- ``processed_events`` recorded more than ``processed_events_days`` (60 days) ago.

Why pruning ``processed_events`` keeps exactly-once: a subscriber needs the id of an event
only while the event can be delivered to it again. Kafka delivers a record again after a
crash before the offset commit (seconds), a relay that died between send and mark
(seconds), a consumer group reset to the earliest offset, and an operator's replay of a
dead letter, which publishes the original record again (to every group of the topic).
None of these reaches further back than the topics keep records: 7 days (the brokers'
default ``log.retention.hours``) and 30 days for the dead-letter topics
(deploy/k8s/topics.yaml). 60 days is past both. A deployment that keeps its topics longer
(or for ever) must raise ``processed_events_days`` above that, or set it to 0 (never).
The events service's projection rebuild records every event id afresh.

The horizons are measured with an injected clock (tests move it); in a service it is the
wall clock, not a demo clock, since the rows' timestamps are the database's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import structlog
from pydantic import BaseModel, Field

from services.kernel.clock import Clock, SystemClock
from services.kernel.db import lock_key

log = structlog.get_logger(__name__)

BATCH = 5_000


class HousekeepingSettings(BaseModel):
    """Nested in each service's settings as ``housekeeping`` (``EVENTS_HOUSEKEEPING__...``).
    0 days (or hours) keeps those rows for ever."""

    idempotency_hours: float = Field(
        default=24.0, ge=0, description="How long an Idempotency-Key is remembered."
    )
    outbox_published_days: float = Field(
        default=7.0, ge=0, description="How long a published outbox row is kept."
    )
    processed_events_days: float = Field(
        default=60.0,
        ge=0,
        description="How long a subscriber remembers an event id it applied; longer than "
        "the topics (and their dead-letter topics) keep records.",
    )
    interval_s: float = Field(
        default=600.0, gt=0, le=86_400, description="How often the tables are swept."
    )


@dataclass(frozen=True)
class Swept:
    """Rows deleted by one round, per table."""

    idempotency_keys: int = 0
    outbox: int = 0
    processed_events: int = 0


# (table, the timestamp that ages, the rows that may go at all)
_TABLES = (
    ("idempotency_keys", "created_at", "true"),
    ("outbox", "published_at", "published_at IS NOT NULL"),
    ("processed_events", "processed_at", "true"),
)


class Housekeeping:
    """Sweeps one database (its pool) by :class:`HousekeepingSettings`."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        settings: HousekeepingSettings,
        *,
        clock: Clock | None = None,
        name: str = "housekeeping",
    ) -> None:
        self._pool = pool
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.name = name

    def horizons(self, now: datetime) -> dict[str, datetime | None]:
        """Per table: rows older than this go (None: kept for ever)."""
        s = self.settings
        ages = {
            "idempotency_keys": timedelta(hours=s.idempotency_hours),
            "outbox": timedelta(days=s.outbox_published_days),
            "processed_events": timedelta(days=s.processed_events_days),
        }
        return {table: (now - age if age else None) for table, age in ages.items()}

    async def sweep(self) -> Swept | None:
        """One round; None when another instance is sweeping this database right now.

        The lock is taken per batch, so another instance can take it between two batches:
        this one then stops and answers what it deleted before it gave way (each row is
        counted by the one instance that deleted it), or None if that was nothing."""
        horizons = self.horizons(self.clock.now())
        deleted: dict[str, int] = {}
        gave_way = False
        async with self._pool().acquire() as conn:
            for table, column, where in _TABLES:
                horizon = horizons[table]
                if horizon is None:
                    continue
                deleted[table], gave_way = await self._sweep_table(
                    conn, table, column, where, horizon
                )
                if gave_way:
                    break
        if gave_way and not any(deleted.values()):
            return None
        swept = Swept(**deleted)
        if any(deleted.values()):
            log.info("housekeeping swept", **deleted)
        return swept

    async def _sweep_table(
        self, conn: asyncpg.Connection, table: str, column: str, where: str, horizon: datetime
    ) -> tuple[int, bool]:
        """Rows of one table deleted in batches, and whether another instance took the lock
        between two batches (then this one stops)."""
        deleted = 0
        while True:
            async with conn.transaction():
                if not await conn.fetchval(
                    "SELECT pg_try_advisory_xact_lock($1)", lock_key(self.name)
                ):
                    return deleted, True
                status: str = await conn.execute(
                    f"""DELETE FROM {table} WHERE ctid = ANY(ARRAY(
                            SELECT ctid FROM {table}
                            WHERE {where} AND {column} < $1 LIMIT {BATCH}))""",
                    horizon,
                )
            count = int(status.split()[-1])
            deleted += count
            if count < BATCH:
                return deleted, False

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every ``interval_s`` until ``stop``; a failed round is tried next time."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception as exc:  # the database away: next round
                log.warning("housekeeping failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.interval_s)  # the interval
