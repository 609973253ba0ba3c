"""The events service's own view of memberships, fed by the membership topic.

Rows from events are authoritative: an event always overwrites. A row learned from the
membership service's lookup (the join-then-register race) is only inserted where no row
exists yet, so it can never undo a cancellation that an event already brought.
"""

from __future__ import annotations

import asyncio
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


async def _active_of_many(
    conn: asyncpg.Connection | asyncpg.Pool, asks: list[_Ask]
) -> set[tuple[str, str, int]]:
    """The (network, municipality, year) of ``asks`` with an active membership in the view."""
    keys = {(slug, code, year) for slug, code, years, _ in asks for year in years}
    rows = await conn.fetch(
        """SELECT v.network_slug, v.municipality_code, v.year
           FROM membership_view v
           JOIN unnest($1::text[], $2::text[], $3::int[]) AS k(network_slug, code, year)
             ON v.network_slug = k.network_slug AND v.municipality_code = k.code
            AND v.year = k.year
           WHERE v.status = 'active'""",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
    )
    return {(r[0], r[1], r[2]) for r in rows}


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


_Ask = tuple[str, str, list[int], "asyncio.Future[set[int]]"]


class PostgresMembershipView:
    """The ``MembershipView`` port on the ``membership_view`` table.

    Questions asked at the same time share one query: in a rush every registration asks,
    and one statement for all of them costs the database (and this process) far less than
    a pool round trip each. A question asked while a query runs goes into the next one.
    """

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool
        self._asks: list[_Ask] = []
        self._loader: asyncio.Task[None] | None = None

    async def active_years(
        self, network_slug: str, municipality_code: str, years: list[int]
    ) -> set[int]:
        future: asyncio.Future[set[int]] = asyncio.get_running_loop().create_future()
        self._asks.append((network_slug, municipality_code, years, future))
        if self._loader is None:
            self._loader = asyncio.create_task(self._load())
        return await future

    async def _load(self) -> None:
        try:
            while asks := self._asks:
                self._asks = []
                try:
                    found = await _active_of_many(self._pool(), asks)
                except BaseException as exc:
                    for *_, future in asks:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for slug, code, years, future in asks:
                    if not future.done():
                        future.set_result({y for y in years if (slug, code, y) in found})
        finally:
            # No await between the empty check and here: nothing can slip in unseen.
            self._loader = None

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
