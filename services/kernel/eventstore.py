"""An append-only event store on PostgreSQL, with a transactional outbox.

Every append checks the stream's expected version; the unique (stream_id, version) index
makes the check hold under any concurrency, so of two writers at the same version exactly
one wins and the other gets :class:`StreamVersionConflictError` with nothing written.
Each appended event is also written to the outbox, encoded as the Kafka record it will
become, in the same transaction: the relay publishes it later (see ``outbox.py``).

Reading "everything after a position" must not skip an event whose transaction commits
late with a lower position (positions come from a sequence, handed out before commit).
:func:`read_all` therefore orders by (transaction id, position) and returns only events of
transactions older than every transaction still running (``pg_snapshot_xmin``): an event
that commits later always sorts after the cursor.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from contracts.envelope import Envelope, encode
from services.kernel.db import Migration
from services.kernel.logging import current_correlation_id
from services.kernel.metrics import EVENTS_APPENDED

OUTBOX_CHANNEL = "es_outbox"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "kernel-0001-event-store",
        """
        CREATE TABLE events (
            position    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tx_id       XID8 NOT NULL DEFAULT pg_current_xact_id(),
            event_id    UUID NOT NULL UNIQUE,
            stream_id   TEXT NOT NULL,
            version     INTEGER NOT NULL CHECK (version > 0),
            event_type  TEXT NOT NULL,
            data        JSONB NOT NULL,
            metadata    JSONB NOT NULL DEFAULT '{}',
            recorded_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
            CONSTRAINT events_stream_version UNIQUE (stream_id, version)
        );
        CREATE INDEX events_tx_position ON events (tx_id, position);
        CREATE TABLE outbox (
            id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id     UUID NOT NULL,
            topic        TEXT NOT NULL,
            key          BYTEA NOT NULL,
            headers      JSONB NOT NULL,
            value        BYTEA NOT NULL,
            created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
            published_at TIMESTAMPTZ
        );
        CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
        CREATE TABLE snapshots (
            stream_id TEXT PRIMARY KEY,
            version   INTEGER NOT NULL,
            state     JSONB NOT NULL
        );
        CREATE TABLE processed_events (
            consumer     TEXT NOT NULL,
            event_id     UUID NOT NULL,
            processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        );
        """,
    ),
    Migration(
        "kernel-0002-subscription-positions",
        """
        -- Per consumer and partition: the offset after the last record the consumer has
        -- applied (or dead-lettered), written in the transaction that applied it, so a
        -- reader of the read model can tell whether it holds everything up to an offset.
        CREATE TABLE subscription_positions (
            consumer    TEXT NOT NULL,
            topic       TEXT NOT NULL,
            partition   INTEGER NOT NULL,
            next_offset BIGINT NOT NULL,
            PRIMARY KEY (consumer, topic, partition)
        );
        """,
    ),
)


class StreamVersionConflictError(Exception):
    """The stream is not at the expected version: someone else appended first."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"stream {stream_id!r} is not at version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version


@dataclass(frozen=True)
class NewEvent:
    """An event to append: its CloudEvents type and JSON data."""

    type: str
    data: dict[str, Any]
    id: UUID = field(default_factory=uuid4)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Append:
    """Events to append to one stream at its expected version (0: a new stream).

    ``correlation_id``: None takes the one bound to the current context (the request's or
    the consumed event's); a batch that appends for many source events passes each one's.
    """

    stream_id: str
    expected_version: int
    events: Sequence[NewEvent]
    topic: str
    causation_id: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored."""

    position: int
    tx_id: int
    id: UUID
    stream_id: str
    version: int
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime


@dataclass(frozen=True)
class Cursor:
    """Where a reader of :func:`read_all` stands: after (tx_id, position)."""

    tx_id: int = 0
    position: int = 0


class EventStore:
    """Appends to and reads from the ``events`` table of one service's database.

    ``source`` is the CloudEvents source of everything this store publishes.
    """

    def __init__(self, source: str) -> None:
        self.source = source

    async def append(
        self,
        conn: asyncpg.Connection,
        *,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        topic: str,
        causation_id: str | None = None,
    ) -> list[RecordedEvent]:
        """Append ``events`` to a stream at ``expected_version`` (0: a new stream).

        Runs in the caller's transaction if there is one, else in its own. On a version
        conflict nothing of this call is written and the transaction is unusable: the
        caller retries from a fresh read.
        """
        if not events:
            return []
        [recorded] = await self.append_many(
            conn, [Append(stream_id, expected_version, events, topic, causation_id)]
        )
        return recorded

    async def append_many(
        self, conn: asyncpg.Connection, appends: Sequence[Append]
    ) -> list[list[RecordedEvent]]:
        """Append to many streams at once: one INSERT into ``events``, one into ``outbox``
        and one NOTIFY for all of them; the recorded events of each append, in order.

        Each stream is checked at its own expected version, and all or nothing is written:
        a conflict on any stream raises :class:`StreamVersionConflictError` naming that
        stream, and the transaction is unusable. Positions (and outbox ids) follow the
        order of ``appends``. A stream may appear only once per call.
        """
        streams = [a.stream_id for a in appends if a.events]
        if not streams:
            return [[] for _ in appends]
        if len(set(streams)) != len(streams):
            raise ValueError("append_many takes each stream once; merge its events first")
        if conn.is_in_transaction():
            return await self._append(conn, appends)
        async with conn.transaction():
            return await self._append(conn, appends)

    async def _append(
        self, conn: asyncpg.Connection, appends: Sequence[Append]
    ) -> list[list[RecordedEvent]]:
        current = current_correlation_id()
        rows: list[tuple[Append, int, NewEvent, dict[str, Any]]] = []
        for a in appends:
            metadata = {
                "correlation_id": a.correlation_id or current,
                "causation_id": a.causation_id,
            }
            for n, e in enumerate(a.events, start=1):
                rows.append((a, a.expected_version + n, e, metadata))
        try:
            recorded = await conn.fetch(
                """
                INSERT INTO events (event_id, stream_id, version, event_type, data, metadata)
                SELECT e.id, e.stream_id, e.version, e.type, e.data, e.metadata
                FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::jsonb[],
                            $6::jsonb[]) WITH ORDINALITY
                     AS e(id, stream_id, version, type, data, metadata, ord)
                ORDER BY e.ord
                RETURNING position, tx_id::text::bigint AS tx_id, event_id, stream_id, version,
                          event_type, data, metadata, recorded_at
                """,
                [e.id for _, _, e, _ in rows],
                [a.stream_id for a, _, _, _ in rows],
                [version for _, version, _, _ in rows],
                [e.type for _, _, e, _ in rows],
                [e.data for _, _, e, _ in rows],
                [metadata for _, _, _, metadata in rows],
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "events_stream_version":
                stream_id = conflicting_stream(exc.detail) or appends[0].stream_id
                expected = {a.stream_id: a.expected_version for a in appends}
                raise StreamVersionConflictError(
                    stream_id, expected.get(stream_id, appends[0].expected_version)
                ) from exc
            raise
        wires = [
            encode(
                Envelope(
                    type=e.type,
                    source=self.source,
                    subject=a.stream_id,
                    data=e.data,
                    id=e.id,
                    time=e.time,
                    correlation_id=metadata["correlation_id"],
                    causation_id=a.causation_id,
                )
            )
            for a, _, e, metadata in rows
        ]
        await conn.execute(
            """
            INSERT INTO outbox (event_id, topic, key, headers, value)
            SELECT o.event_id, o.topic, o.key, o.headers, o.value
            FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::jsonb[], $5::bytea[])
                 WITH ORDINALITY AS o(event_id, topic, key, headers, value, ord)
            ORDER BY o.ord
            """,
            [e.id for _, _, e, _ in rows],
            [a.topic for a, _, _, _ in rows],
            [w.key for w in wires],
            [{name: value.decode() for name, value in w.headers} for w in wires],
            [w.value for w in wires],
        )
        await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
        for _, _, e, _ in rows:
            EVENTS_APPENDED.labels(e.type).inc()
        by_id = {r["event_id"]: _recorded(r) for r in recorded}
        return [[by_id[e.id] for e in a.events] for a in appends]

    async def read_stream(
        self, conn: asyncpg.Connection | asyncpg.Pool, stream_id: str, after_version: int = 0
    ) -> list[RecordedEvent]:
        """The events of one stream after ``after_version``, in version order."""
        rows = await conn.fetch(
            f"""SELECT {_RECORDED} FROM events
                WHERE stream_id = $1 AND version > $2 ORDER BY version""",
            stream_id,
            after_version,
        )
        return [_recorded(r) for r in rows]

    async def stream_version(self, conn: asyncpg.Connection | asyncpg.Pool, stream_id: str) -> int:
        version: int | None = await conn.fetchval(
            "SELECT max(version) FROM events WHERE stream_id = $1", stream_id
        )
        return version or 0

    async def stream_versions(
        self, conn: asyncpg.Connection | asyncpg.Pool, stream_ids: Sequence[str]
    ) -> dict[str, int]:
        """:meth:`stream_version` of many streams in one query (0 for an empty stream)."""
        rows = await conn.fetch(
            """SELECT stream_id, max(version) AS version FROM events
               WHERE stream_id = ANY($1::text[]) GROUP BY stream_id""",
            list(stream_ids),
        )
        found = {r["stream_id"]: r["version"] for r in rows}
        return {stream_id: found.get(stream_id, 0) for stream_id in stream_ids}

    async def read_all(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        after: Cursor = Cursor(),
        limit: int = 1000,
    ) -> list[RecordedEvent]:
        """Events committed after ``after``, in an order no late commit can jump."""
        rows = await conn.fetch(
            f"""SELECT {_RECORDED} FROM events
                WHERE (tx_id, position) > ($1::text::xid8, $2)
                  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY tx_id, position LIMIT $3""",
            str(after.tx_id),
            after.position,
            limit,
        )
        return [_recorded(r) for r in rows]

    async def read_snapshot(
        self, conn: asyncpg.Connection, after_position: int = 0, limit: int = 1000
    ) -> list[RecordedEvent]:
        """Events visible to the caller's snapshot after a position, in position order.

        For one-shot replays (rebuilds) inside ONE ``REPEATABLE READ`` transaction, where
        every page sees the same snapshot, so no late commit can slip between pages. Unlike
        :meth:`read_all` it is not held back by transactions still running elsewhere on the
        server (``pg_snapshot_xmin`` is cluster-wide: one long transaction in another
        database would make a rebuild stop short and silently drop the newest events).
        Events committed after the snapshot reach a subscriber through Kafka as usual.
        """
        rows = await conn.fetch(
            f"SELECT {_RECORDED} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after_position,
            limit,
        )
        return [_recorded(r) for r in rows]

    @staticmethod
    def cursor_after(event: RecordedEvent) -> Cursor:
        return Cursor(event.tx_id, event.position)

    async def load_snapshot(
        self, conn: asyncpg.Connection, stream_id: str
    ) -> tuple[int, dict[str, Any]] | None:
        row = await conn.fetchrow(
            "SELECT version, state FROM snapshots WHERE stream_id = $1", stream_id
        )
        return None if row is None else (row["version"], row["state"])

    async def save_snapshot(
        self, conn: asyncpg.Connection, stream_id: str, version: int, state: dict[str, Any]
    ) -> None:
        await conn.execute(
            """
            INSERT INTO snapshots (stream_id, version, state) VALUES ($1, $2, $3)
            ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, state = excluded.state
            WHERE snapshots.version < excluded.version
            """,
            stream_id,
            version,
            state,
        )


_RECORDED = """position, tx_id::text::bigint AS tx_id, event_id, stream_id, version,
    event_type, data, metadata, recorded_at"""
"""The columns of a :class:`RecordedEvent`."""

_CONFLICT_DETAIL = re.compile(
    r"^Key \(stream_id, version\)=\((?P<stream>.*), \d+\) already exists\.$"
)


def conflicting_stream(detail: str | None) -> str | None:
    """The stream named in PostgreSQL's detail of a unique (stream_id, version) violation."""
    match = _CONFLICT_DETAIL.match(detail or "")
    return None if match is None else match["stream"]


def _recorded(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        position=row["position"],
        tx_id=row["tx_id"],
        id=row["event_id"],
        stream_id=row["stream_id"],
        version=row["version"],
        type=row["event_type"],
        data=row["data"],
        metadata=row["metadata"],
        recorded_at=row["recorded_at"],
    )
