"""The roster read model: who is a member of which network in which year.

Fed by the service's own subscription to the membership topic (so any number of
instances, and a rebuild, give the same table). It holds no personal data. The handlers
are idempotent upserts, so applying an event twice (a rebuild racing the subscriber)
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.kernel.db import Migration
from services.kernel.eventstore import EventStore
from services.membership.adapters.translation import from_recorded
from services.membership.domain import model as dm

MIGRATIONS = (
    Migration(
        "membership-0001-roster",
        """
        CREATE TABLE membership_roster (
            membership_id     TEXT PRIMARY KEY,
            network_slug      TEXT NOT NULL,
            year              INTEGER NOT NULL,
            municipality_code TEXT NOT NULL,
            municipality_name TEXT NOT NULL,
            status            TEXT NOT NULL,
            fee_dkk           INTEGER NOT NULL,
            renewed_from      TEXT,
            joined_at         TIMESTAMPTZ NOT NULL,
            cancelled_at      TIMESTAMPTZ
        );
        CREATE INDEX membership_roster_network_year
            ON membership_roster (network_slug, year, municipality_code);
        CREATE INDEX membership_roster_municipality
            ON membership_roster (municipality_code, year, network_slug);
        """,
    ),
)


@dataclass(frozen=True)
class RosterRow:
    membership_id: str
    network_slug: str
    year: int
    municipality_code: str
    municipality_name: str
    status: str
    fee_dkk: int
    renewed_from: str | None
    joined_at: datetime
    cancelled_at: datetime | None


@dataclass(frozen=True)
class Page:
    total: int
    rows: list[RosterRow]


async def apply(conn: asyncpg.Connection, event: dm.MembershipEvent) -> None:
    """Apply one membership event to the roster."""
    if isinstance(event, dm.MembershipJoined | dm.MembershipRenewed):
        await conn.execute(
            """INSERT INTO membership_roster (membership_id, network_slug, year,
                   municipality_code, municipality_name, status, fee_dkk, renewed_from,
                   joined_at)
               VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8)
               ON CONFLICT (membership_id) DO NOTHING""",
            event.membership_id,
            event.network_slug,
            event.year,
            event.municipality_code,
            event.municipality_name,
            event.fee_dkk,
            event.renewed_from if isinstance(event, dm.MembershipRenewed) else None,
            event.occurred_at,
        )
    elif isinstance(event, dm.MembershipCancelled):
        await conn.execute(
            """UPDATE membership_roster SET status = 'cancelled', cancelled_at = $2
               WHERE membership_id = $1""",
            event.membership_id,
            event.occurred_at,
        )
    # A changed contact person is not roster data.


_COLUMNS = """membership_id, network_slug, year, municipality_code, municipality_name, status,
              fee_dkk, renewed_from, joined_at, cancelled_at"""


async def roster(
    conn: asyncpg.Connection | asyncpg.Pool,
    network_slug: str,
    year: int,
    *,
    status: str | None,
    limit: int,
    offset: int,
) -> Page:
    """A network's members in a year, by municipality code; ``status`` None: all."""
    total: int = await conn.fetchval(
        """SELECT count(*) FROM membership_roster
           WHERE network_slug = $1 AND year = $2 AND ($3::text IS NULL OR status = $3)""",
        network_slug,
        year,
        status,
    )
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM membership_roster
            WHERE network_slug = $1 AND year = $2 AND ($3::text IS NULL OR status = $3)
            ORDER BY municipality_code LIMIT $4 OFFSET $5""",
        network_slug,
        year,
        status,
        limit,
        offset,
    )
    return Page(total, [RosterRow(**dict(r)) for r in rows])


async def municipality_memberships(
    conn: asyncpg.Connection | asyncpg.Pool, municipality_code: str, *, limit: int, offset: int
) -> Page:
    """A municipality's memberships over the years, newest year first."""
    total: int = await conn.fetchval(
        "SELECT count(*) FROM membership_roster WHERE municipality_code = $1", municipality_code
    )
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM membership_roster WHERE municipality_code = $1
            ORDER BY year DESC, network_slug LIMIT $2 OFFSET $3""",
        municipality_code,
        limit,
        offset,
    )
    return Page(total, [RosterRow(**dict(r)) for r in rows])


async def rebuild(pool: asyncpg.Pool, store: EventStore, batch: int = 1000) -> int:
    """Rebuild the roster from the event store while the service runs; return events applied.

    The table is locked for the rebuild, so the subscriber waits rather than seeing it half
    built; events it delivers afterwards are idempotent upserts.
    """
    applied = 0
    # One snapshot for every page (see EventStore.read_snapshot): everything committed
    # before it is replayed; what commits later reaches the subscriber through Kafka.
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        await conn.execute("LOCK TABLE membership_roster IN EXCLUSIVE MODE")
        await conn.execute("DELETE FROM membership_roster")
        position = 0
        while events := await store.read_snapshot(conn, position, limit=batch):
            for recorded in events:
                event = from_recorded(recorded)
                if event is not None and not isinstance(event, dm.NetworkCreated):
                    await apply(conn, event)
                    applied += 1
            position = events[-1].position
    return applied
