"""The outreach's read models: the lists, the invitations and the meeting facts.

Fed by the service's subscription to the lists, invitations and meetings topics (so any
number of instances, and a rebuild, give the same tables); memberships come from the
roster. Nothing personal is kept: no contact, no participant. Every write is idempotent
and keeps to the order of its stream, whatever the delivery order across streams:

- a list replaces the stored one only with a higher revision;
- an invitation and each numbered reminder are inserted once;
- each meeting event is one fact row, inserted once by its event id, with its place in
  the meeting's stream; the meetings are folded from them when read (``meeting_facts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from contracts import outreach as wo
from contracts.base import EventPayload
from services.kernel.db import Migration
from services.membership.adapters.outreach_translation import (
    area_list_event,
    invitation_event,
    meeting_fact,
)
from services.membership.domain import area_lists as da
from services.membership.domain import invitations as di
from services.membership.domain.meeting_facts import FactKind, MeetingFact, MeetingState, fold
from services.membership.domain.outreach import MemberFact

MIGRATIONS = (
    Migration(
        "membership-0002-outreach",
        """
        CREATE TABLE outreach_area_lists (
            list_date   DATE PRIMARY KEY,
            revision    INTEGER NOT NULL,
            partial     BOOLEAN NOT NULL,
            imported_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE outreach_listed_areas (
            list_date         DATE NOT NULL,
            category          TEXT NOT NULL,
            area              TEXT NOT NULL,
            municipality_code TEXT NOT NULL,
            municipality_name TEXT NOT NULL,
            PRIMARY KEY (list_date, category, area, municipality_code)
        );
        CREATE INDEX outreach_listed_areas_municipality
            ON outreach_listed_areas (municipality_code);
        CREATE TABLE outreach_invitations (
            invitation_id     TEXT PRIMARY KEY,
            network_slug      TEXT NOT NULL,
            year              INTEGER NOT NULL,
            list_date         DATE NOT NULL,
            municipality_code TEXT NOT NULL,
            meeting_id        TEXT,
            invited_at        TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX outreach_invitations_municipality
            ON outreach_invitations (municipality_code);
        CREATE TABLE outreach_reminders (
            invitation_id TEXT NOT NULL,
            reminder      INTEGER NOT NULL,
            reminded_at   TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (invitation_id, reminder)
        );
        CREATE TABLE outreach_meeting_facts (
            event_id          UUID PRIMARY KEY,
            meeting_id        TEXT NOT NULL,
            partition         INTEGER NOT NULL,
            "offset"          BIGINT NOT NULL,
            kind              TEXT NOT NULL,
            occurred_at       TIMESTAMPTZ NOT NULL,
            network_slug      TEXT,
            year              INTEGER,
            title             TEXT,
            starts_at         TIMESTAMPTZ,
            seats             INTEGER,
            offer             BOOLEAN,
            registration_id   TEXT,
            municipality_code TEXT,
            basis             TEXT,
            attended          BOOLEAN
        );
        CREATE INDEX outreach_meeting_facts_order
            ON outreach_meeting_facts (meeting_id, occurred_at, partition, "offset");
        """,
    ),
)

OWN_TABLES = (
    "outreach_area_lists",
    "outreach_listed_areas",
    "outreach_invitations",
    "outreach_reminders",
)
"""The tables fed by the service's own events (a rebuild from its event store)."""
FACT_TABLE = "outreach_meeting_facts"
"""The table fed by the meetings topic (a rebuild from the topic)."""


@dataclass(frozen=True)
class Consumed:
    """An event to apply, with its place in its topic (for a meeting's order)."""

    event_id: UUID
    payload: EventPayload
    partition: int = 0
    offset: int = 0


def is_own(payload: EventPayload) -> bool:
    """An event of the service's own (a list or an invitation), not a meeting's."""
    return isinstance(
        payload, wo.AreaListPublished | wo.MunicipalityInvited | wo.InvitationReminded
    )


async def apply(conn: asyncpg.Connection, events: Sequence[Consumed]) -> int:
    """Apply events in order to the read models; how many concerned them."""
    facts: list[tuple[Consumed, MeetingFact]] = []
    applied = 0
    for consumed in events:
        payload = consumed.payload
        if isinstance(payload, wo.AreaListPublished):
            await _apply_list(conn, area_list_event(payload))
        elif (invitation := invitation_event(payload)) is not None:
            await _apply_invitation(conn, invitation)
        elif (fact := meeting_fact(payload)) is not None:
            facts.append((consumed, fact))
        else:
            continue
        applied += 1
    await _insert_facts(conn, facts)
    return applied


async def _apply_list(conn: asyncpg.Connection, event: da.AreaListPublished) -> None:
    newer = await conn.fetchval(
        """INSERT INTO outreach_area_lists (list_date, revision, partial, imported_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (list_date) DO UPDATE SET revision = excluded.revision,
               partial = excluded.partial, imported_at = excluded.imported_at
           WHERE outreach_area_lists.revision < excluded.revision
           RETURNING true""",
        event.list_date,
        event.revision,
        event.partial,
        event.occurred_at,
    )
    if not newer:
        return  # this revision or a later one is here already
    await conn.execute("DELETE FROM outreach_listed_areas WHERE list_date = $1", event.list_date)
    await conn.execute(
        """INSERT INTO outreach_listed_areas (list_date, category, area, municipality_code,
               municipality_name)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])""",
        event.list_date,
        [r.category.value for r in event.rows],
        [r.area for r in event.rows],
        [r.municipality_code for r in event.rows],
        [r.municipality_name for r in event.rows],
    )


async def _apply_invitation(conn: asyncpg.Connection, event: di.InvitationEvent) -> None:
    await conn.execute(
        """INSERT INTO outreach_invitations (invitation_id, network_slug, year, list_date,
               municipality_code, meeting_id, invited_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (invitation_id) DO NOTHING""",
        event.invitation_id,
        event.network_slug,
        event.year,
        event.list_date,
        event.municipality_code,
        event.meeting_id,
        event.occurred_at,
    )
    if isinstance(event, di.InvitationReminded):
        await conn.execute(
            """INSERT INTO outreach_reminders (invitation_id, reminder, reminded_at)
               VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
            event.invitation_id,
            event.reminder,
            event.occurred_at,
        )


async def _insert_facts(
    conn: asyncpg.Connection, facts: Sequence[tuple[Consumed, MeetingFact]]
) -> None:
    if not facts:
        return
    f = [fact for _, fact in facts]
    await conn.execute(
        """INSERT INTO outreach_meeting_facts (event_id, partition, "offset", meeting_id, kind,
               occurred_at, network_slug, year, title, starts_at, seats, offer,
               registration_id, municipality_code, basis, attended)
           SELECT * FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::text[], $5::text[],
                                $6::timestamptz[], $7::text[], $8::int[], $9::text[],
                                $10::timestamptz[], $11::int[], $12::bool[], $13::text[],
                                $14::text[], $15::text[], $16::bool[])
           ON CONFLICT (event_id) DO NOTHING""",
        [c.event_id for c, _ in facts],
        [c.partition for c, _ in facts],
        [c.offset for c, _ in facts],
        [x.meeting_id for x in f],
        [x.kind.value for x in f],
        [x.occurred_at for x in f],
        [x.network_slug for x in f],
        [x.year for x in f],
        [x.title for x in f],
        [x.starts_at for x in f],
        [x.seats for x in f],
        [x.offer for x in f],
        [x.registration_id for x in f],
        [x.municipality_code for x in f],
        [x.basis for x in f],
        [x.attended for x in f],
    )


async def mark_processed(conn: asyncpg.Connection, consumer: str, ids: Sequence[UUID]) -> None:
    """Record events as processed by ``consumer`` (a rebuild applied them): a copy the
    subscriber still holds is then skipped."""
    await conn.execute(
        """INSERT INTO processed_events (consumer, event_id)
           SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING""",
        consumer,
        list(ids),
    )


class PostgresOutreachViews:
    """:class:`~services.membership.service_layer.ports.OutreachViews` on a
    connection or a pool."""

    def __init__(self, db: asyncpg.Connection | asyncpg.Pool) -> None:
        self.db = db

    async def area_lists(self) -> list[da.AreaList]:
        lists = await self.db.fetch("SELECT * FROM outreach_area_lists ORDER BY list_date")
        rows = await self.db.fetch(
            """SELECT * FROM outreach_listed_areas
               ORDER BY list_date, category, area, municipality_code"""
        )
        by_date: dict[object, list[da.ListedArea]] = {}
        for r in rows:
            by_date.setdefault(r["list_date"], []).append(
                da.ListedArea(
                    da.Category(r["category"]),
                    r["area"],
                    r["municipality_code"],
                    r["municipality_name"],
                )
            )
        return [
            da.AreaList(
                list_date=x["list_date"],
                revision=x["revision"],
                partial=x["partial"],
                rows=da.canonical(by_date.get(x["list_date"], [])),
                imported_at=x["imported_at"],
            )
            for x in lists
        ]

    async def members(self, network_slug: str) -> list[MemberFact]:
        rows = await self.db.fetch(
            """SELECT network_slug, year, municipality_code, status, joined_at, renewed_from
               FROM membership_roster WHERE network_slug = $1
               ORDER BY year, municipality_code""",
            network_slug,
        )
        return [
            MemberFact(
                network_slug=r["network_slug"],
                year=r["year"],
                municipality_code=r["municipality_code"],
                active=r["status"] == "active",
                joined_at=r["joined_at"],
                renewed=r["renewed_from"] is not None,
            )
            for r in rows
        ]

    async def invitations(
        self, network_slug: str | None = None, municipality_code: str | None = None
    ) -> list[di.Invitation]:
        rows = await self.db.fetch(
            """SELECT i.*, coalesce(max(r.reminder), 0) AS reminders,
                      max(r.reminded_at) AS last_reminded_at
               FROM outreach_invitations i
               LEFT JOIN outreach_reminders r USING (invitation_id)
               WHERE ($1::text IS NULL OR i.network_slug = $1)
                 AND ($2::text IS NULL OR i.municipality_code = $2)
               GROUP BY i.invitation_id ORDER BY i.year, i.municipality_code""",
            network_slug,
            municipality_code,
        )
        return [
            di.Invitation(
                invitation_id=r["invitation_id"],
                network_slug=r["network_slug"],
                year=r["year"],
                list_date=r["list_date"],
                municipality_code=r["municipality_code"],
                invited_at=r["invited_at"],
                meeting_id=r["meeting_id"],
                reminders=r["reminders"],
                last_reminded_at=r["last_reminded_at"],
            )
            for r in rows
        ]

    async def meetings(self, network_slug: str | None = None) -> dict[str, MeetingState]:
        rows = await self.db.fetch(
            """SELECT * FROM outreach_meeting_facts
               WHERE $1::text IS NULL OR meeting_id IN (
                   SELECT meeting_id FROM outreach_meeting_facts
                   WHERE kind = 'scheduled' AND network_slug = $1)
               ORDER BY meeting_id, occurred_at, partition, "offset" """,
            network_slug,
        )
        return fold(
            MeetingFact(
                meeting_id=r["meeting_id"],
                kind=FactKind(r["kind"]),
                occurred_at=r["occurred_at"],
                network_slug=r["network_slug"],
                year=r["year"],
                title=r["title"],
                starts_at=r["starts_at"],
                seats=r["seats"],
                offer=r["offer"],
                registration_id=r["registration_id"],
                municipality_code=r["municipality_code"],
                basis=r["basis"],
                attended=r["attended"],
            )
            for r in rows
        )
