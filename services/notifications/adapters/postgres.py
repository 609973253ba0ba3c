"""The notifications database: the view of meetings and registrations, the reminder
schedule, the ``deliveries`` outbox and the notification feed projection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from contracts.notifications import NotificationFailed, NotificationQueued, NotificationSent
from services.kernel.db import Migration
from services.kernel.privacy import ERASED, SealError, Vault
from services.notifications.domain.model import (
    AgendaItem,
    Meeting,
    MeetingStatus,
    Person,
    Registration,
    RegistrationStatus,
)

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


# --- the view of meetings and registrations -------------------------------------------


async def load_meeting(
    conn: asyncpg.Connection, meeting_id: str, *, for_update: bool = False
) -> Meeting | None:
    row = await conn.fetchrow(
        "SELECT * FROM meetings WHERE meeting_id = $1" + (" FOR UPDATE" if for_update else ""),
        meeting_id,
    )
    return None if row is None else _meeting(row)


async def save_meeting(conn: asyncpg.Connection, meeting: Meeting) -> None:
    await conn.execute(
        """INSERT INTO meetings (meeting_id, title, description, starts_at, ends_at, venue_name,
                                 venue_address, status, program)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (meeting_id) DO UPDATE SET
               title = excluded.title, description = excluded.description,
               starts_at = excluded.starts_at, ends_at = excluded.ends_at,
               venue_name = excluded.venue_name, venue_address = excluded.venue_address,
               status = excluded.status, program = excluded.program""",
        meeting.meeting_id,
        meeting.title,
        meeting.description,
        meeting.starts_at,
        meeting.ends_at,
        meeting.venue_name,
        meeting.venue_address,
        meeting.status.value,
        [
            {"starts_at": i.starts_at.isoformat(), "title": i.title, "speaker": i.speaker}
            for i in meeting.program
        ],
    )


async def load_registrations(conn: asyncpg.Connection, meeting_id: str) -> list[Registration]:
    rows = await conn.fetch(
        "SELECT * FROM registrations WHERE meeting_id = $1 ORDER BY registration_id", meeting_id
    )
    return [_registration(r) for r in rows]


async def save_registrations(
    conn: asyncpg.Connection, registrations: Sequence[Registration]
) -> None:
    if not registrations:
        return
    await conn.executemany(
        """INSERT INTO registrations (registration_id, meeting_id, name, email, municipality_code,
                                      status, position, calendar_sequence, person_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (registration_id) DO UPDATE SET
               name = excluded.name, email = excluded.email, person_id = excluded.person_id,
               municipality_code = excluded.municipality_code, status = excluded.status,
               position = excluded.position, calendar_sequence = excluded.calendar_sequence""",
        [
            (
                r.registration_id,
                r.meeting_id,
                r.participant.name,
                r.participant.email or None,
                r.municipality_code,
                r.status.value,
                r.position,
                r.calendar_sequence,
                r.participant.person_id,
            )
            for r in registrations
        ],
    )


async def save_network(conn: asyncpg.Connection, slug: str, name: str) -> None:
    await conn.execute(
        """INSERT INTO networks (slug, name) VALUES ($1, $2)
           ON CONFLICT (slug) DO UPDATE SET name = excluded.name""",
        slug,
        name,
    )


async def network_name(conn: asyncpg.Connection, slug: str) -> str | None:
    name: str | None = await conn.fetchval("SELECT name FROM networks WHERE slug = $1", slug)
    return name


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


# --- the reminder schedule --------------------------------------------------------------


async def schedule_reminder(
    conn: asyncpg.Connection, meeting_id: str, starts_at: datetime, due_at: datetime
) -> None:
    """Set the meeting's reminder; a meeting that moved gets a fresh, unfired one."""
    await conn.execute(
        """INSERT INTO reminders (meeting_id, starts_at, due_at) VALUES ($1, $2, $3)
           ON CONFLICT (meeting_id) DO UPDATE SET
               due_at = excluded.due_at, starts_at = excluded.starts_at,
               fired_at = CASE WHEN reminders.starts_at = excluded.starts_at
                               THEN reminders.fired_at END""",
        meeting_id,
        starts_at,
        due_at,
    )


async def drop_reminder(conn: asyncpg.Connection, meeting_id: str) -> None:
    await conn.execute("DELETE FROM reminders WHERE meeting_id = $1", meeting_id)


async def claim_due_reminder(conn: asyncpg.Connection, now: datetime) -> asyncpg.Record | None:
    """Lock one due, unfired reminder (others skip it); None when none is due."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT meeting_id, starts_at, due_at FROM reminders
           WHERE fired_at IS NULL AND due_at <= $1
           ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED""",
        now,
    )
    return row


async def mark_reminder_fired(conn: asyncpg.Connection, meeting_id: str, now: datetime) -> None:
    await conn.execute("UPDATE reminders SET fired_at = $2 WHERE meeting_id = $1", meeting_id, now)


# --- the deliveries outbox ---------------------------------------------------------------


@dataclass(frozen=True)
class NewDelivery:
    notification_id: UUID
    dedupe_key: str
    kind: str
    recipient_email: str
    recipient_name: str | None
    municipality_code: str | None
    meeting_id: str | None
    registration_id: str | None
    source_event_id: str | None
    subject: str
    body_text: str
    body_html: str
    ics: bytes | None
    calendar_method: str | None
    person_id: str | None = None
    recipient_sealed: str | None = None


async def insert_delivery(conn: asyncpg.Connection, d: NewDelivery, now: datetime) -> bool:
    """Queue a delivery; False if one with the same dedupe key exists (nothing written)."""
    inserted = await conn.fetchval(
        """INSERT INTO deliveries (notification_id, dedupe_key, kind, recipient_email,
               recipient_name, municipality_code, meeting_id, registration_id, source_event_id,
               subject, body_text, body_html, ics, calendar_method, next_attempt_at, created_at,
               person_id, recipient_sealed)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15,
                   $16, $17)
           ON CONFLICT DO NOTHING RETURNING true""",
        d.notification_id,
        d.dedupe_key,
        d.kind,
        d.recipient_email,
        d.recipient_name,
        d.municipality_code,
        d.meeting_id,
        d.registration_id,
        d.source_event_id,
        d.subject,
        d.body_text,
        d.body_html,
        d.ics,
        d.calendar_method,
        now,
        d.person_id,
        d.recipient_sealed,
    )
    return bool(inserted)


async def claim_due_delivery(conn: asyncpg.Connection, now: datetime) -> asyncpg.Record | None:
    """Lock one queued delivery that is due (other workers skip it)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT * FROM deliveries WHERE status = 'queued' AND next_attempt_at <= $1
           ORDER BY next_attempt_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED""",
        now,
    )
    return row


async def record_sent(
    conn: asyncpg.Connection, notification_id: UUID, attempts: int, message_id: str, now: datetime
) -> None:
    await conn.execute(
        """UPDATE deliveries SET status = 'sent', attempts = $2, message_id = $3,
               finished_at = $4, last_error = NULL WHERE notification_id = $1""",
        notification_id,
        attempts,
        message_id,
        now,
    )


async def record_retry(
    conn: asyncpg.Connection,
    notification_id: UUID,
    attempts: int,
    error: str,
    next_attempt_at: datetime,
) -> None:
    await conn.execute(
        """UPDATE deliveries SET attempts = $2, last_error = $3, next_attempt_at = $4
           WHERE notification_id = $1""",
        notification_id,
        attempts,
        error,
        next_attempt_at,
    )


async def record_failed(
    conn: asyncpg.Connection,
    notification_id: UUID,
    attempts: int,
    error: str,
    permanent: bool,
    now: datetime,
) -> None:
    await conn.execute(
        """UPDATE deliveries SET status = 'failed', attempts = $2, last_error = $3,
               permanent = $4, finished_at = $5 WHERE notification_id = $1""",
        notification_id,
        attempts,
        error,
        permanent,
        now,
    )


# --- the feed projection -------------------------------------------------------------------

FEED_STATUS = {
    NotificationQueued.type_name(): "queued",
    NotificationSent.type_name(): "sent",
    NotificationFailed.type_name(): "failed",
}


async def apply_to_feed(
    conn: asyncpg.Connection, event_type: str, data: dict[str, Any], vault: Vault | None
) -> None:
    """Project one notification event into the feed (used inline and for a rebuild).

    A queued notification's sealed recipient is opened with ``vault`` (needed for
    ``queued`` events only); an erased recipient shows as null.
    """
    status = FEED_STATUS.get(event_type)
    if status is None:
        return
    occurred = datetime.fromisoformat(data["occurred_at"])
    if status == "queued":
        if vault is None:
            raise ValueError("a queued notification needs the vault to open its recipient")
        person_id = data["recipient_person_id"]
        try:
            opened = await vault.open(person_id, data["recipient_sealed"])
        except SealError:
            opened = None
        await conn.execute(
            """INSERT INTO notification_feed (notification_id, kind, recipient_email,
                   municipality_code, meeting_id, registration_id, subject, status,
                   queued_at, updated_at, recipient_person_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $8, $9)
               ON CONFLICT (notification_id) DO NOTHING""",
            UUID(data["notification_id"]),
            data["kind"],
            None if opened is None else opened["email"],
            data.get("municipality_code"),
            data.get("meeting_id"),
            data.get("registration_id"),
            data["subject"],
            occurred,
            person_id,
        )
        return
    await conn.execute(
        """UPDATE notification_feed SET status = $2, attempts = $3, reason = $4,
               permanent = $5, updated_at = $6 WHERE notification_id = $1""",
        UUID(data["notification_id"]),
        status,
        data.get("attempts", 0),
        data.get("reason"),
        data.get("permanent"),
        occurred,
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
