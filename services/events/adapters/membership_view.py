"""The events service's own view of memberships, fed by the membership topic.

Rows from events are authoritative: an event always overwrites. A row learned from the
membership service's lookup (the join-then-register race) is only inserted where no row
exists yet, so it can never undo a cancellation that an event already brought.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from contracts import membership as wire
from services.kernel.db import Migration
from services.kernel.subscriber import InboundEvent

MIGRATIONS = (
    Migration(
        "events-0001-membership-view",
        """
        CREATE TABLE membership_view (
            network_slug      TEXT NOT NULL,
            year              INTEGER NOT NULL,
            municipality_code TEXT NOT NULL,
            status            TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
            membership_id     TEXT,
            source            TEXT NOT NULL CHECK (source IN ('event', 'lookup')),
            updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (network_slug, year, municipality_code)
        );
        CREATE TABLE network_view (
            slug TEXT PRIMARY KEY,
            name TEXT NOT NULL
        );
        """,
    ),
)


async def active_years(
    conn: asyncpg.Connection | asyncpg.Pool,
    network_slug: str,
    municipality_code: str,
    years: list[int],
) -> set[int]:
    """Which of ``years`` the view shows an active membership for."""
    rows = await conn.fetch(
        """SELECT year FROM membership_view
           WHERE network_slug = $1 AND municipality_code = $2 AND year = ANY($3::int[])
             AND status = 'active'""",
        network_slug,
        municipality_code,
        years,
    )
    return {r["year"] for r in rows}


async def remember_lookup(
    conn: asyncpg.Connection | asyncpg.Pool, network_slug: str, year: int, municipality_code: str
) -> None:
    await conn.execute(
        """INSERT INTO membership_view (network_slug, year, municipality_code, status, source)
           VALUES ($1, $2, $3, 'active', 'lookup') ON CONFLICT DO NOTHING""",
        network_slug,
        year,
        municipality_code,
    )


class PostgresMembershipView:
    """The ``MembershipView`` port on the ``membership_view`` table."""

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def active_years(
        self, network_slug: str, municipality_code: str, years: list[int]
    ) -> set[int]:
        return await active_years(self._pool(), network_slug, municipality_code, years)

    async def remember_active(self, network_slug: str, year: int, municipality_code: str) -> None:
        await remember_lookup(self._pool(), network_slug, year, municipality_code)


async def network_name(conn: asyncpg.Connection | asyncpg.Pool, slug: str) -> str | None:
    name: str | None = await conn.fetchval("SELECT name FROM network_view WHERE slug = $1", slug)
    return name


async def _upsert(conn: asyncpg.Connection, payload: wire._MembershipEvent, status: str) -> None:
    await conn.execute(
        """INSERT INTO membership_view
               (network_slug, year, municipality_code, status, membership_id, source)
           VALUES ($1, $2, $3, $4, $5, 'event')
           ON CONFLICT (network_slug, year, municipality_code) DO UPDATE
             SET status = excluded.status, membership_id = excluded.membership_id,
                 source = 'event', updated_at = now()""",
        payload.network_slug,
        payload.year,
        payload.municipality_code,
        status,
        payload.membership_id,
    )


async def on_joined(conn: asyncpg.Connection, event: InboundEvent) -> None:
    assert isinstance(event.payload, wire.MembershipJoined | wire.MembershipRenewed)
    await _upsert(conn, event.payload, "active")


async def on_cancelled(conn: asyncpg.Connection, event: InboundEvent) -> None:
    assert isinstance(event.payload, wire.MembershipCancelled)
    await _upsert(conn, event.payload, "cancelled")


async def on_network_created(conn: asyncpg.Connection, event: InboundEvent) -> None:
    payload = event.payload
    assert isinstance(payload, wire.NetworkCreated)
    await conn.execute(
        """INSERT INTO network_view (slug, name) VALUES ($1, $2)
           ON CONFLICT (slug) DO UPDATE SET name = excluded.name""",
        payload.slug,
        payload.name,
    )
