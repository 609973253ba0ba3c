"""The notifications database: the view of meetings and registrations, the reminder
schedule, the ``deliveries`` outbox and the notification feed projection.

Every write takes many rows in one statement (``unnest`` of arrays), so a batch of source
events or of deliveries costs a few statements, whatever its size.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from contracts.notifications import NotificationFailed, NotificationQueued, NotificationSent
from services.kernel.db import Migration
from services.kernel.eventstore import Append, EventStore
from services.kernel.privacy import ERASED, SealError, Vault
from services.notifications.domain.model import (
    AgendaItem,
    Meeting,
    MeetingStatus,
    Person,
    Registration,
    RegistrationStatus,
)
from services.notifications.service_layer.ports import FeedEntry, NewDelivery, ReminderChange

DELIVERIES_CHANNEL = "notifications_deliveries"
"""NOTIFY'd by a transaction that queues mail, so the delivery workers wake at once."""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "notifications-0001-views-deliveries-feed",
        """
        CREATE TABLE meetings (
            meeting_id    TEXT PRIMARY KEY,
            title         TEXT NOT NULL,
            description   TEXT NOT NULL,
            starts_at     TIMESTAMPTZ NOT NULL,
            ends_at       TIMESTAMPTZ NOT NULL,
            venue_name    TEXT NOT NULL,
            venue_address TEXT NOT NULL,
            status        TEXT NOT NULL,
            program       JSONB NOT NULL DEFAULT '[]'
        );
        CREATE TABLE registrations (
            registration_id   TEXT PRIMARY KEY,
            meeting_id        TEXT NOT NULL,
            name              TEXT NOT NULL,
            email             TEXT NOT NULL,
            municipality_code TEXT NOT NULL,
            status            TEXT NOT NULL,
            position          INTEGER,
            calendar_sequence INTEGER
        );
        CREATE INDEX registrations_meeting ON registrations (meeting_id);
        CREATE TABLE networks (slug TEXT PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE reminders (
            meeting_id TEXT PRIMARY KEY,
            starts_at  TIMESTAMPTZ NOT NULL,
            due_at     TIMESTAMPTZ NOT NULL,
            fired_at   TIMESTAMPTZ
        );
        CREATE INDEX reminders_due ON reminders (due_at) WHERE fired_at IS NULL;
        CREATE TABLE deliveries (
            notification_id   UUID PRIMARY KEY,
            dedupe_key        TEXT NOT NULL,
            kind              TEXT NOT NULL,
            recipient_email   TEXT NOT NULL,
            recipient_name    TEXT,
            municipality_code TEXT,
            meeting_id        TEXT,
            registration_id   TEXT,
            source_event_id   TEXT,
            subject           TEXT NOT NULL,
            body_text         TEXT NOT NULL,
            body_html         TEXT NOT NULL,
            ics               BYTEA,
            calendar_method   TEXT,
            status            TEXT NOT NULL DEFAULT 'queued'
                              CHECK (status IN ('queued', 'sent', 'failed')),
            attempts          INTEGER NOT NULL DEFAULT 0,
            next_attempt_at   TIMESTAMPTZ NOT NULL,
            last_error        TEXT,
            permanent         BOOLEAN,
            message_id        TEXT,
            created_at        TIMESTAMPTZ NOT NULL,
            finished_at       TIMESTAMPTZ
        );
        CREATE UNIQUE INDEX deliveries_dedupe_key ON deliveries (dedupe_key);
        CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'queued';
        CREATE INDEX deliveries_status ON deliveries (status, created_at);
        CREATE TABLE notification_feed (
            notification_id   UUID PRIMARY KEY,
            kind              TEXT NOT NULL,
            recipient_email   TEXT NOT NULL,
            municipality_code TEXT,
            meeting_id        TEXT,
            registration_id   TEXT,
            subject           TEXT NOT NULL,
            status            TEXT NOT NULL,
            attempts          INTEGER NOT NULL DEFAULT 0,
            reason            TEXT,
            permanent         BOOLEAN,
            queued_at         TIMESTAMPTZ NOT NULL,
            updated_at        TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX feed_recipient ON notification_feed (lower(recipient_email), queued_at DESC);
        CREATE INDEX feed_municipality ON notification_feed (municipality_code, queued_at DESC);
        """,
    ),
    Migration(
        "notifications-0002-persons",
        """
        ALTER TABLE registrations ADD COLUMN person_id TEXT;
        ALTER TABLE registrations ALTER COLUMN email DROP NOT NULL;
        CREATE INDEX registrations_person ON registrations (person_id);
        ALTER TABLE deliveries ADD COLUMN person_id TEXT;
        ALTER TABLE deliveries ADD COLUMN recipient_sealed TEXT;
        ALTER TABLE deliveries ALTER COLUMN recipient_email DROP NOT NULL;
        CREATE INDEX deliveries_person ON deliveries (person_id);
        ALTER TABLE notification_feed ADD COLUMN recipient_person_id TEXT;
        ALTER TABLE notification_feed ALTER COLUMN recipient_email DROP NOT NULL;
        CREATE INDEX feed_person ON notification_feed (recipient_person_id);
        """,
    ),
    Migration(
        # The feed of a recipient is found by person id (the vault compares the addresses),
        # no longer by lower(recipient_email).
        "notifications-0003-feed-by-person",
        """
        DROP INDEX IF EXISTS feed_recipient;
        DROP INDEX IF EXISTS feed_person;
        CREATE INDEX feed_person ON notification_feed (recipient_person_id, queued_at DESC);
        """,
    ),
)


# --- the store the use cases see (one transaction) ----------------------------------------


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


# --- the deliveries outbox ---------------------------------------------------------------


async def claim_due_deliveries(
    conn: asyncpg.Connection, now: datetime, limit: int
) -> list[asyncpg.Record]:
    """Lock up to ``limit`` queued deliveries that are due (other workers skip them)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM deliveries WHERE status = 'queued' AND next_attempt_at <= $1
           ORDER BY next_attempt_at, created_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return rows


@dataclass(frozen=True)
class Sent:
    notification_id: UUID
    attempts: int
    message_id: str


@dataclass(frozen=True)
class Retry:
    notification_id: UUID
    attempts: int
    error: str
    next_attempt_at: datetime


@dataclass(frozen=True)
class Failed:
    notification_id: UUID
    attempts: int
    error: str
    permanent: bool
    smtp_code: int | None = None
    enhanced_status: str | None = None


async def record_outcomes(
    conn: asyncpg.Connection,
    sent: Sequence[Sent],
    retries: Sequence[Retry],
    failures: Sequence[Failed],
    now: datetime,
) -> None:
    """Mark delivered, to-be-retried and failed deliveries, one statement each."""
    if sent:
        await conn.execute(
            """UPDATE deliveries d SET status = 'sent', attempts = u.attempts,
                   message_id = u.message_id, finished_at = $4, last_error = NULL
               FROM unnest($1::uuid[], $2::int[], $3::text[])
                    AS u(notification_id, attempts, message_id)
               WHERE d.notification_id = u.notification_id""",
            [s.notification_id for s in sent],
            [s.attempts for s in sent],
            [s.message_id for s in sent],
            now,
        )
    if retries:
        await conn.execute(
            """UPDATE deliveries d SET attempts = u.attempts, last_error = u.error,
                   next_attempt_at = u.next_attempt_at
               FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[])
                    AS u(notification_id, attempts, error, next_attempt_at)
               WHERE d.notification_id = u.notification_id""",
            [r.notification_id for r in retries],
            [r.attempts for r in retries],
            [r.error for r in retries],
            [r.next_attempt_at for r in retries],
        )
    if failures:
        await conn.execute(
            """UPDATE deliveries d SET status = 'failed', attempts = u.attempts,
                   last_error = u.error, permanent = u.permanent, finished_at = $5
               FROM unnest($1::uuid[], $2::int[], $3::text[], $4::bool[])
                    AS u(notification_id, attempts, error, permanent)
               WHERE d.notification_id = u.notification_id""",
            [f.notification_id for f in failures],
            [f.attempts for f in failures],
            [f.error for f in failures],
            [f.permanent for f in failures],
            now,
        )


# --- the feed projection -------------------------------------------------------------------

FEED_STATUS = {
    NotificationQueued.type_name(): "queued",
    NotificationSent.type_name(): "sent",
    NotificationFailed.type_name(): "failed",
}


async def add_to_feed(conn: asyncpg.Connection, entries: Sequence[FeedEntry]) -> None:
    """Queued notifications into the feed (one that is there already stays as it is)."""
    if not entries:
        return
    await conn.execute(
        """INSERT INTO notification_feed (notification_id, kind, recipient_email,
               municipality_code, meeting_id, registration_id, subject, status,
               queued_at, updated_at, recipient_person_id)
           SELECT f.notification_id, f.kind, f.recipient_email, f.municipality_code,
                  f.meeting_id, f.registration_id, f.subject, 'queued', f.queued_at,
                  f.queued_at, f.recipient_person_id
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::text[], $8::timestamptz[], $9::text[])
                AS f(notification_id, kind, recipient_email, municipality_code, meeting_id,
                     registration_id, subject, queued_at, recipient_person_id)
           ON CONFLICT (notification_id) DO NOTHING""",
        [e.notification_id for e in entries],
        [e.kind for e in entries],
        [e.recipient_email for e in entries],
        [e.municipality_code for e in entries],
        [e.meeting_id for e in entries],
        [e.registration_id for e in entries],
        [e.subject for e in entries],
        [e.queued_at for e in entries],
        [e.recipient_person_id for e in entries],
    )


async def update_feed(
    conn: asyncpg.Connection, events: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """Sent and failed notifications (event type, data) onto their feed rows."""
    updates = [(FEED_STATUS[t], d) for t, d in events if FEED_STATUS.get(t) in ("sent", "failed")]
    if not updates:
        return
    await conn.execute(
        """UPDATE notification_feed f SET status = u.status, attempts = u.attempts,
               reason = u.reason, permanent = u.permanent, updated_at = u.updated_at
           FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::bool[],
                       $6::timestamptz[])
                AS u(notification_id, status, attempts, reason, permanent, updated_at)
           WHERE f.notification_id = u.notification_id""",
        [UUID(d["notification_id"]) for _, d in updates],
        [status for status, _ in updates],
        [d.get("attempts", 0) for _, d in updates],
        [d.get("reason") for _, d in updates],
        [d.get("permanent") for _, d in updates],
        [datetime.fromisoformat(d["occurred_at"]) for _, d in updates],
    )


async def apply_to_feed(
    conn: asyncpg.Connection, event_type: str, data: dict[str, Any], vault: Vault | None
) -> None:
    """Project one notification event into the feed (a rebuild replays them).

    A queued notification's sealed recipient is opened with ``vault`` (needed for
    ``queued`` events only); an erased recipient shows as null.
    """
    status = FEED_STATUS.get(event_type)
    if status is None:
        return
    if status != "queued":
        await update_feed(conn, [(event_type, data)])
        return
    if vault is None:
        raise ValueError("a queued notification needs the vault to open its recipient")
    try:
        opened = await vault.open(data["recipient_person_id"], data["recipient_sealed"])
    except SealError:
        opened = None
    await add_to_feed(
        conn, [FeedEntry.of_queued(data, None if opened is None else opened["email"])]
    )


# --- erasure --------------------------------------------------------------------------------


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
