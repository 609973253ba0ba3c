"""Read models of meetings fed by the meetings topic, and their rebuild from the event store.

- ``meeting_view``: each meeting with its program (upcoming meetings for front ends);
- ``participant_view``: every registration with its status (the operators' participant
  list, a municipality's registrations); waiting positions are computed when read;
- ``availability_view``: seats, taken, free, waiting and seats taken under the offer.

The same :func:`apply` serves the Kafka subscriber and :func:`rebuild`, so a rebuild gives
what the live projection gives.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from contracts import meetings as wire
from contracts.base import EventPayload, registry
from services.kernel.db import Migration
from services.kernel.eventstore import Cursor, EventStore
from services.kernel.subscriber import InboundEvent

AVAILABILITY_CHANNEL = "events_availability"

MIGRATIONS = (
    Migration(
        "events-0002-projections",
        """
        CREATE TABLE meeting_view (
            meeting_id             TEXT PRIMARY KEY,
            network_slug           TEXT NOT NULL,
            year                   INTEGER NOT NULL,
            title                  TEXT NOT NULL,
            description            TEXT NOT NULL,
            starts_at              TIMESTAMPTZ NOT NULL,
            ends_at                TIMESTAMPTZ NOT NULL,
            venue_name             TEXT NOT NULL,
            venue_address          TEXT NOT NULL,
            seats                  INTEGER NOT NULL,
            registration_deadline  TIMESTAMPTZ NOT NULL,
            per_municipality_cap   INTEGER,
            guest_price_dkk        INTEGER,
            next_year_members_free BOOLEAN NOT NULL,
            program                JSONB NOT NULL DEFAULT '[]',
            cancelled              BOOLEAN NOT NULL DEFAULT false,
            cancel_reason          TEXT
        );
        CREATE INDEX meeting_view_starts ON meeting_view (starts_at);
        CREATE TABLE availability_view (
            meeting_id  TEXT PRIMARY KEY,
            seats       INTEGER NOT NULL,
            taken       INTEGER NOT NULL DEFAULT 0,
            waiting     INTEGER NOT NULL DEFAULT 0,
            offer_taken INTEGER NOT NULL DEFAULT 0,
            cancelled   BOOLEAN NOT NULL DEFAULT false,
            changes     BIGINT NOT NULL DEFAULT 0
        );
        CREATE SEQUENCE participant_wait_seq;
        CREATE TABLE participant_view (
            registration_id   TEXT PRIMARY KEY,
            meeting_id        TEXT NOT NULL,
            name              TEXT NOT NULL,
            email             TEXT NOT NULL,
            job_title         TEXT NOT NULL,
            municipality_code TEXT NOT NULL,
            note              TEXT,
            basis             TEXT NOT NULL,
            price_dkk         INTEGER NOT NULL,
            status            TEXT NOT NULL,
            wait_seq          BIGINT,
            cancelled_by      TEXT,
            attended          BOOLEAN,
            registered_at     TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX participant_view_meeting ON participant_view (meeting_id, status);
        CREATE INDEX participant_view_municipality ON participant_view (municipality_code);
        """,
    ),
)

PROJECTION_TABLES = ("meeting_view", "availability_view", "participant_view")


async def apply(conn: asyncpg.Connection, payload: EventPayload) -> None:
    """Apply one meetings event to the read models (inside the caller's transaction)."""
    match payload:
        case wire.MeetingScheduled():
            await conn.execute(
                """INSERT INTO meeting_view (meeting_id, network_slug, year, title, description,
                       starts_at, ends_at, venue_name, venue_address, seats,
                       registration_deadline, per_municipality_cap, guest_price_dkk,
                       next_year_members_free)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)
                   ON CONFLICT DO NOTHING""",
                payload.meeting_id,
                payload.network_slug,
                payload.year,
                payload.title,
                payload.description,
                payload.starts_at,
                payload.ends_at,
                payload.venue_name,
                payload.venue_address,
                payload.seats,
                payload.registration_deadline,
                payload.per_municipality_cap,
                payload.guest_price_dkk,
                payload.next_year_members_free,
            )
            await conn.execute(
                """INSERT INTO availability_view (meeting_id, seats) VALUES ($1, $2)
                   ON CONFLICT DO NOTHING""",
                payload.meeting_id,
                payload.seats,
            )
        case wire.MeetingProgramPublished():
            await conn.execute(
                "UPDATE meeting_view SET program = $2 WHERE meeting_id = $1",
                payload.meeting_id,
                [item.model_dump(mode="json") for item in payload.items],
            )
        case wire.MeetingRescheduled():
            await conn.execute(
                """UPDATE meeting_view SET starts_at = $2, ends_at = $3,
                       registration_deadline = $4, venue_name = $5, venue_address = $6
                   WHERE meeting_id = $1""",
                payload.meeting_id,
                payload.starts_at,
                payload.ends_at,
                payload.registration_deadline,
                payload.venue_name,
                payload.venue_address,
            )
        case wire.MeetingSeatsChanged():
            await conn.execute(
                "UPDATE meeting_view SET seats = $2 WHERE meeting_id = $1",
                payload.meeting_id,
                payload.seats,
            )
            await conn.execute(
                "UPDATE availability_view SET seats = $2 WHERE meeting_id = $1",
                payload.meeting_id,
                payload.seats,
            )
        case wire.MeetingOfferChanged():
            await conn.execute(
                "UPDATE meeting_view SET next_year_members_free = $2 WHERE meeting_id = $1",
                payload.meeting_id,
                payload.next_year_members_free,
            )
        case wire.MeetingCancelled():
            await conn.execute(
                """UPDATE meeting_view SET cancelled = true, cancel_reason = $2
                   WHERE meeting_id = $1""",
                payload.meeting_id,
                payload.reason,
            )
            await conn.execute(
                "UPDATE availability_view SET cancelled = true WHERE meeting_id = $1",
                payload.meeting_id,
            )
        case wire.RegistrationConfirmed() | wire.RegistrationWaitlisted():
            waiting = isinstance(payload, wire.RegistrationWaitlisted)
            p = payload.participant
            await conn.execute(
                """INSERT INTO participant_view (registration_id, meeting_id, name, email,
                       job_title, municipality_code, note, basis, price_dkk, status, wait_seq,
                       registered_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,
                           CASE WHEN $11 THEN nextval('participant_wait_seq') END, $12)
                   ON CONFLICT DO NOTHING""",
                payload.registration_id,
                payload.meeting_id,
                p.name,
                str(p.email),
                p.job_title,
                p.municipality_code,
                p.note,
                payload.basis,
                payload.price_dkk,
                "waitlisted" if waiting else "confirmed",
                waiting,
                payload.occurred_at,
            )
        case wire.RegistrationPromoted():
            await conn.execute(
                """UPDATE participant_view SET status = 'confirmed', wait_seq = NULL
                   WHERE registration_id = $1""",
                payload.registration_id,
            )
        case wire.RegistrationCancelled():
            await conn.execute(
                """UPDATE participant_view
                   SET status = 'cancelled', wait_seq = NULL, cancelled_by = $2
                   WHERE registration_id = $1""",
                payload.registration_id,
                payload.cancelled_by,
            )
        case wire.AttendanceRecorded():
            await conn.execute(
                "UPDATE participant_view SET attended = $2 WHERE registration_id = $1",
                payload.registration_id,
                payload.attended,
            )
        case _:
            return
    await _refresh_availability(conn, payload.meeting_id)


async def _refresh_availability(conn: asyncpg.Connection, meeting_id: str) -> None:
    await conn.execute(
        """UPDATE availability_view a SET
               taken = c.taken, waiting = c.waiting, offer_taken = c.offer_taken,
               changes = a.changes + 1
           FROM (SELECT count(*) FILTER (WHERE status = 'confirmed') AS taken,
                        count(*) FILTER (WHERE status = 'waitlisted') AS waiting,
                        count(*) FILTER (WHERE status = 'confirmed'
                                         AND basis = 'next_year_offer') AS offer_taken
                 FROM participant_view WHERE meeting_id = $1) c
           WHERE a.meeting_id = $1""",
        meeting_id,
    )
    await conn.execute("SELECT pg_notify($1, $2)", AVAILABILITY_CHANNEL, meeting_id)


async def on_meeting_event(conn: asyncpg.Connection, event: InboundEvent) -> None:
    """The subscriber's handler for every meetings event."""
    await apply(conn, event.payload)


async def rebuild(
    pool: asyncpg.Pool,
    store: EventStore,
    consumer: str,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rebuild the read models from the event store, while the service runs; return events.

    One transaction: lock the read models (the subscriber waits), empty them, replay every
    event with the same :func:`apply`, and record each event as processed by ``consumer``,
    so the subscriber does not apply again what the rebuild already did. ``progress`` is
    called with (events replayed, events in all) for a progress bar.
    """
    count = 0
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"LOCK TABLE {', '.join(PROJECTION_TABLES)} IN ACCESS EXCLUSIVE MODE")
        events = []
        cursor = Cursor()
        while batch := await store.read_all(conn, cursor, limit=5000):
            events.extend(batch)
            cursor = store.cursor_after(batch[-1])
        await conn.execute(f"TRUNCATE {', '.join(PROJECTION_TABLES)}")
        await conn.execute("ALTER SEQUENCE participant_wait_seq RESTART")
        await conn.execute("DELETE FROM processed_events WHERE consumer = $1", consumer)
        known = registry.types()
        for done, record in enumerate(events, start=1):
            if record.type in known and known[record.type].topic == wire.MEETING_TOPIC:
                await apply(conn, registry.parse(record.type, record.data))
                count += 1
            if progress is not None:
                progress(done, len(events))
        await conn.executemany(
            "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING",
            [(consumer, r.id) for r in events],
        )
    return count


# --- queries --------------------------------------------------------------------------------


async def availability(
    conn: asyncpg.Connection | asyncpg.Pool, meeting_id: str
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT meeting_id, seats, taken, waiting, offer_taken, cancelled, changes,
                  CASE WHEN cancelled THEN 0 ELSE greatest(seats - taken, 0) END AS free
           FROM availability_view WHERE meeting_id = $1""",
        meeting_id,
    )
    return None if row is None else dict(row)


async def all_availability(conn: asyncpg.Connection | asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT meeting_id, seats, taken, waiting, offer_taken, cancelled
           FROM availability_view ORDER BY meeting_id"""
    )
    return [dict(r) for r in rows]


def _ranked(where: str) -> str:
    """Participants of the meetings ``where`` selects, with their current waiting position."""
    return f"""(SELECT v.*, CASE WHEN v.status = 'waitlisted' THEN
                       row_number() OVER (PARTITION BY v.meeting_id, v.status ORDER BY v.wait_seq)
                   END AS waiting_position
                FROM participant_view v WHERE v.meeting_id IN ({where})) p"""


_COLUMNS = """p.registration_id, p.meeting_id, p.name, p.email, p.job_title,
    p.municipality_code, p.note, p.basis, p.price_dkk, p.status, p.attended, p.cancelled_by,
    p.waiting_position"""


async def participants(
    conn: asyncpg.Connection | asyncpg.Pool, meeting_id: str
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM {_ranked("$1")}
            ORDER BY p.status, p.wait_seq NULLS FIRST, p.registered_at, p.registration_id""",
        meeting_id,
    )
    return [dict(r) for r in rows]


async def municipality_registrations(
    conn: asyncpg.Connection | asyncpg.Pool, municipality_code: str
) -> list[dict[str, Any]]:
    where = "SELECT meeting_id FROM participant_view WHERE municipality_code = $1"
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS}, m.title AS meeting_title, m.starts_at,
                   m.cancelled AS meeting_cancelled
            FROM {_ranked(where)} JOIN meeting_view m USING (meeting_id)
            WHERE p.municipality_code = $1 ORDER BY m.starts_at, p.registered_at""",
        municipality_code,
    )
    return [dict(r) for r in rows]


async def upcoming_meetings(
    conn: asyncpg.Connection | asyncpg.Pool, now: datetime
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT m.*, a.taken, a.waiting,
                  CASE WHEN a.cancelled THEN 0 ELSE greatest(a.seats - a.taken, 0) END AS free
           FROM meeting_view m JOIN availability_view a USING (meeting_id)
           WHERE m.ends_at >= $1 AND NOT m.cancelled ORDER BY m.starts_at""",
        now,
    )
    return [dict(r) for r in rows]
