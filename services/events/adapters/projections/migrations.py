"""The read models' tables, and the guard that keeps their writers apart from a rebuild."""

from __future__ import annotations

from services.kernel.db import Migration

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
    Migration(
        "events-0003-participants-sealed",
        """
        ALTER TABLE participant_view ADD COLUMN person_id TEXT;
        ALTER TABLE participant_view ADD COLUMN erased BOOLEAN NOT NULL DEFAULT false;
        ALTER TABLE participant_view ALTER COLUMN email DROP NOT NULL;
        ALTER TABLE participant_view ALTER COLUMN job_title DROP NOT NULL;
        CREATE INDEX participant_view_person ON participant_view (person_id);
        """,
    ),
    Migration(
        "events-0004-erased-persons",
        """
        CREATE TABLE erased_persons (
            person_id TEXT PRIMARY KEY,
            erased_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        """,
    ),
)

PROJECTION_TABLES = ("meeting_view", "availability_view", "participant_view")

READ_MODELS_GUARD = "events-read-models"
"""Every transaction that writes the read models takes this advisory lock shared first
(the subscriptions' ``guard``); :func:`rebuild` holds it exclusively."""
