"""The notifications database: the view of meetings and registrations, the reminder
schedule, the ``deliveries`` outbox, the notification feed projection and the seats of
meetings (for invitations to join)."""

from __future__ import annotations

from services.kernel.db import Migration

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
    Migration(
        # The seats only an invitation needs ("there are 12 free seats right now").
        "notifications-outreach-0001-meeting-seats",
        """
        CREATE TABLE meeting_seats (
            meeting_id TEXT PRIMARY KEY,
            seats      INTEGER NOT NULL
        );
        """,
    ),
)
