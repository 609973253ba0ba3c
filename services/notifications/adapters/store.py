"""The :class:`~services.notifications.service_layer.ports.NotificationStore` port on
PostgreSQL: the view of meetings and registrations, the reminder schedule, the queued
deliveries with their events and feed entries, and an erased person's scrubbing.

Every write takes many rows in one statement (``unnest`` of arrays), so a batch of source
events costs a few statements, whatever its size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from uuid import UUID

import asyncpg

from services.kernel.eventstore import Append, EventStore
from services.kernel.privacy import ERASED
from services.notifications.adapters.deliveries import DELIVERIES_CHANNEL
from services.notifications.adapters.feed import add_to_feed
from services.notifications.domain.model import (
    AgendaItem,
    Meeting,
    MeetingStatus,
    Person,
    Registration,
    RegistrationStatus,
)
from services.notifications.service_layer.ports import FeedEntry, NewDelivery, ReminderChange


class PostgresNotificationStore:
    """:class:`~services.notifications.service_layer.ports.NotificationStore` on one
    connection, inside the caller's transaction. ``rows_read`` counts the rows of the view
    it has read (meetings and registrations), for tests and diagnostics."""

    def __init__(self, conn: asyncpg.Connection, events: EventStore) -> None:
        self.conn = conn
        self.events = events
        self.rows_read = 0

    async def meetings(
        self, meeting_ids: Collection[str], *, lock: bool = False
    ) -> dict[str, Meeting]:
        if not meeting_ids:
            return {}
        rows = await self.conn.fetch(
            "SELECT * FROM meetings WHERE meeting_id = ANY($1::text[]) ORDER BY meeting_id"
            + (" FOR UPDATE" if lock else ""),
            list(meeting_ids),
        )
        self.rows_read += len(rows)
        return {r["meeting_id"]: _meeting(r) for r in rows}

    async def registrations(
        self, registration_ids: Collection[str], *, of_meetings: Collection[str] = ()
    ) -> list[Registration]:
        if not registration_ids and not of_meetings:
            return []
        rows = await self.conn.fetch(
            """SELECT * FROM registrations
               WHERE registration_id = ANY($1::text[]) OR meeting_id = ANY($2::text[])
               ORDER BY registration_id""",
            list(registration_ids),
            list(of_meetings),
        )
        self.rows_read += len(rows)
        return [_registration(r) for r in rows]

    async def network_names(self, slugs: Collection[str]) -> dict[str, str]:
        if not slugs:
            return {}
        rows = await self.conn.fetch(
            "SELECT slug, name FROM networks WHERE slug = ANY($1::text[])", list(slugs)
        )
        return {r["slug"]: r["name"] for r in rows}

    async def save_meetings(self, meetings: Sequence[Meeting]) -> None:
        if not meetings:
            return
        await self.conn.executemany(
            """INSERT INTO meetings (meeting_id, title, description, starts_at, ends_at,
                                     venue_name, venue_address, status, program)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (meeting_id) DO UPDATE SET
                   title = excluded.title, description = excluded.description,
                   starts_at = excluded.starts_at, ends_at = excluded.ends_at,
                   venue_name = excluded.venue_name, venue_address = excluded.venue_address,
                   status = excluded.status, program = excluded.program""",
            [
                (
                    m.meeting_id,
                    m.title,
                    m.description,
                    m.starts_at,
                    m.ends_at,
                    m.venue_name,
                    m.venue_address,
                    m.status.value,
                    [
                        {
                            "starts_at": i.starts_at.isoformat(),
                            "title": i.title,
                            "speaker": i.speaker,
                        }
                        for i in m.program
                    ],
                )
                for m in meetings
            ],
        )

    async def save_registrations(self, registrations: Sequence[Registration]) -> None:
        if not registrations:
            return
        await self.conn.execute(
            """INSERT INTO registrations (registration_id, meeting_id, name, email,
                   municipality_code, status, position, calendar_sequence, person_id)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                    $6::text[], $7::int[], $8::int[], $9::text[])
               ON CONFLICT (registration_id) DO UPDATE SET
                   name = excluded.name, email = excluded.email, person_id = excluded.person_id,
                   municipality_code = excluded.municipality_code, status = excluded.status,
                   position = excluded.position, calendar_sequence = excluded.calendar_sequence""",
            [r.registration_id for r in registrations],
            [r.meeting_id for r in registrations],
            [r.participant.name for r in registrations],
            [r.participant.email or None for r in registrations],
            [r.municipality_code for r in registrations],
            [r.status.value for r in registrations],
            [r.position for r in registrations],
            [r.calendar_sequence for r in registrations],
            [r.participant.person_id for r in registrations],
        )

    async def change_reminders(self, changes: Sequence[ReminderChange]) -> None:
        for change in changes:  # rare (a meeting scheduled, moved or cancelled): in order
            if change.due_at is None:
                await self.conn.execute(
                    "DELETE FROM reminders WHERE meeting_id = $1", change.meeting_id
                )
                continue
            # A meeting that moved gets a fresh, unfired reminder.
            await self.conn.execute(
                """INSERT INTO reminders (meeting_id, starts_at, due_at) VALUES ($1, $2, $3)
                   ON CONFLICT (meeting_id) DO UPDATE SET
                       due_at = excluded.due_at, starts_at = excluded.starts_at,
                       fired_at = CASE WHEN reminders.starts_at = excluded.starts_at
                                       THEN reminders.fired_at END""",
                change.meeting_id,
                change.starts_at,
                change.due_at,
            )

    async def claim_due_reminder(self, now: datetime) -> tuple[str, datetime] | None:
        row = await self.conn.fetchrow(
            """SELECT meeting_id, starts_at FROM reminders
               WHERE fired_at IS NULL AND due_at <= $1
               ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED""",
            now,
        )
        return None if row is None else (row["meeting_id"], row["starts_at"])

    async def mark_reminder_fired(self, meeting_id: str, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE reminders SET fired_at = $2 WHERE meeting_id = $1", meeting_id, now
        )

    async def queue(self, deliveries: Sequence[NewDelivery], now: datetime) -> set[UUID]:
        if not deliveries:
            return set()
        d = deliveries
        rows = await self.conn.fetch(
            """INSERT INTO deliveries (notification_id, dedupe_key, kind, recipient_email,
                   recipient_name, municipality_code, meeting_id, registration_id,
                   source_event_id, subject, body_text, body_html, ics, calendar_method,
                   person_id, recipient_sealed, next_attempt_at, created_at)
               SELECT q.*, $17::timestamptz, $17::timestamptz
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                           $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                           $11::text[], $12::text[], $13::bytea[], $14::text[], $15::text[],
                           $16::text[]) AS q
               ON CONFLICT DO NOTHING RETURNING notification_id""",
            [x.notification_id for x in d],
            [x.dedupe_key for x in d],
            [x.kind for x in d],
            [x.recipient_email for x in d],
            [x.recipient_name for x in d],
            [x.municipality_code for x in d],
            [x.meeting_id for x in d],
            [x.registration_id for x in d],
            [x.source_event_id for x in d],
            [x.subject for x in d],
            [x.body_text for x in d],
            [x.body_html for x in d],
            [x.ics for x in d],
            [x.calendar_method for x in d],
            [x.person_id for x in d],
            [x.recipient_sealed for x in d],
            now,
        )
        if rows:
            await self.conn.execute("SELECT pg_notify($1, '')", DELIVERIES_CHANNEL)
        return {r["notification_id"] for r in rows}

    async def append(self, appends: Sequence[Append]) -> None:
        await self.events.append_many(self.conn, appends)

    async def add_to_feed(self, entries: Sequence[FeedEntry]) -> None:
        await add_to_feed(self.conn, entries)

    async def save_network(self, slug: str, name: str) -> None:
        await self.conn.execute(
            """INSERT INTO networks (slug, name) VALUES ($1, $2)
               ON CONFLICT (slug) DO UPDATE SET name = excluded.name""",
            slug,
            name,
        )

    async def scrub_person(self, person_id: str) -> None:
        await scrub_person(self.conn, person_id)


class PostgresNotificationStores:
    """Stores on the service's pool: one on a connection whose transaction the caller
    (the subscriber) holds, or one in a transaction of its own (:meth:`transaction`)."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], events: EventStore) -> None:
        self._pool = pool
        self.events = events

    def on(self, conn: asyncpg.Connection) -> PostgresNotificationStore:
        return PostgresNotificationStore(conn, self.events)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresNotificationStore]:
        async with self._pool().acquire() as conn, conn.transaction():
            yield self.on(conn)


def _meeting(row: asyncpg.Record) -> Meeting:
    return Meeting(
        meeting_id=row["meeting_id"],
        title=row["title"],
        description=row["description"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        venue_name=row["venue_name"],
        venue_address=row["venue_address"],
        status=MeetingStatus(row["status"]),
        program=tuple(
            AgendaItem(datetime.fromisoformat(i["starts_at"]), i["title"], i.get("speaker"))
            for i in row["program"]
        ),
    )


def _registration(row: asyncpg.Record) -> Registration:
    return Registration(
        registration_id=row["registration_id"],
        meeting_id=row["meeting_id"],
        participant=Person(row["name"], row["email"] or "", row["person_id"]),
        municipality_code=row["municipality_code"],
        status=RegistrationStatus(row["status"]),
        position=row["position"],
        calendar_sequence=row["calendar_sequence"],
    )


async def scrub_person(conn: asyncpg.Connection, person_id: str) -> None:
    """Forget an erased person here: the erased marker in the view of registrations, no
    address, name, text, calendar or server answer in deliveries (a queued one is never
    sent), no address or server answer in the feed. Statuses, kinds and counts stay.

    A server's answer is redacted since it is recorded (adapters/smtp_reply.py); rows
    recorded before that may name the address in ``last_error`` and ``reason``, so those
    of the person's own mail are cleared here."""
    registrations = [
        r[0]
        for r in await conn.fetch(
            "SELECT registration_id FROM registrations WHERE person_id = $1", person_id
        )
    ]
    await conn.execute(
        "UPDATE registrations SET name = $2, email = NULL WHERE person_id = $1",
        person_id,
        ERASED,
    )
    # Mail to the person, and the organiser's mail about them (it names them), lose
    # their text; what is still queued is never sent.
    await conn.execute(
        """UPDATE deliveries SET
               recipient_email = CASE WHEN person_id = $1 THEN NULL ELSE recipient_email END,
               recipient_name = CASE WHEN person_id = $1 THEN NULL ELSE recipient_name END,
               body_text = $2, body_html = $2, ics = NULL,
               status = CASE WHEN status = 'queued' THEN 'failed' ELSE status END,
               last_error = CASE WHEN status = 'queued' THEN 'erased'
                                 WHEN person_id = $1 THEN NULL ELSE last_error END,
               permanent = CASE WHEN status = 'queued' THEN true ELSE permanent END
           WHERE person_id = $1 OR registration_id = ANY($3::text[])""",
        person_id,
        ERASED,
        registrations,
    )
    await conn.execute(
        """UPDATE notification_feed SET recipient_email = NULL, reason = NULL
           WHERE recipient_person_id = $1""",
        person_id,
    )
