"""The :class:`~services.events.service_layer.ports.MeetingStreams` port on PostgreSQL.

A decision on a meeting is one transaction on one connection that first takes the
meeting's advisory lock (every instance serialises on it), then reads and writes through
the kernel's event store (events, with their outbox rows, and snapshots) and the kernel's
idempotency records. The domain's events and the meeting's state are translated to and from
the wire and the snapshot JSON here (:mod:`.translation`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import asyncpg

from contracts.meetings import MEETING_TOPIC
from services.events.adapters.translation import (
    SNAPSHOT_FORMAT,
    from_record,
    meeting_from_json,
    meeting_to_json,
    to_new_event,
)
from services.events.domain import events as e
from services.events.domain.model import Meeting
from services.events.service_layer.ports import (
    ConcurrencyError,
    IdempotencyRef,
    MeetingHeader,
    Reply,
)
from services.kernel import idempotency
from services.kernel.db import lock_key
from services.kernel.eventstore import EventStore, StreamVersionConflictError


class _Reader:
    """One meeting's stream on one connection."""

    def __init__(self, conn: asyncpg.Connection, store: EventStore, stream_id: str) -> None:
        self.conn = conn
        self.store = store
        self.stream_id = stream_id

    async def version(self) -> int:
        return await self.store.stream_version(self.conn, self.stream_id)

    async def snapshot(self) -> tuple[int, Meeting] | None:
        found = await self.store.load_snapshot(self.conn, self.stream_id)
        if found is None or found[1].get("format") != SNAPSHOT_FORMAT:
            return None  # none, or of a format this service no longer reads
        return found[0], meeting_from_json(found[1])

    async def events_after(self, version: int) -> Sequence[tuple[int, e.Event]]:
        records = await self.store.read_stream(self.conn, self.stream_id, after_version=version)
        return [(record.version, from_record(record)) for record in records]


class _Decision(_Reader):
    """One decision: the caller holds the transaction and the meeting's lock."""

    async def replayed(self, ref: IdempotencyRef) -> Reply | None:
        stored = await idempotency.begin(self.conn, ref.scope, ref.key, ref.request_hash)
        if stored is None:
            return None
        return Reply(stored.status, stored.body, replayed=True)

    async def remember(self, ref: IdempotencyRef, reply: Reply) -> None:
        await idempotency.remember(
            self.conn, ref.scope, ref.key, ref.request_hash, reply.status, body=reply.body
        )

    async def append(self, expected_version: int, events: Sequence[e.Event]) -> None:
        try:
            await self.store.append(
                self.conn,
                stream_id=self.stream_id,
                expected_version=expected_version,
                events=[to_new_event(event) for event in events],
                topic=MEETING_TOPIC,
            )
        except StreamVersionConflictError as exc:
            raise ConcurrencyError(self.stream_id) from exc

    async def save_snapshot(self, version: int, state: Meeting) -> None:
        await self.store.save_snapshot(self.conn, self.stream_id, version, meeting_to_json(state))


class PostgresMeetingStreams:
    """The meetings' streams in the service's database (``pool`` is called per use: the
    pool opens with the service)."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], store: EventStore) -> None:
        self._pool = pool
        self.store = store

    @asynccontextmanager
    async def reading(self, stream_id: str) -> AsyncIterator[_Reader]:
        async with self._pool().acquire() as conn:
            yield _Reader(conn, self.store, stream_id)

    @asynccontextmanager
    async def deciding(self, stream_id: str) -> AsyncIterator[_Decision]:
        async with self._pool().acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(stream_id))
            yield _Decision(conn, self.store, stream_id)

    async def header(self, stream_id: str) -> MeetingHeader | None:
        data = await self._pool().fetchval(
            "SELECT data FROM events WHERE stream_id = $1 AND version = 1", stream_id
        )
        return None if data is None else MeetingHeader(data["network_slug"], int(data["year"]))
