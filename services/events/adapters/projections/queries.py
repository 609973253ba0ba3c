"""What the API reads of the read models: availability, participant lists, upcoming meetings."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def availability(conn: Conn, meeting_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT meeting_id, seats, taken, waiting, offer_taken, cancelled, changes,
                  CASE WHEN cancelled THEN 0 ELSE greatest(seats - taken, 0) END AS free
           FROM availability_view WHERE meeting_id = $1""",
        meeting_id,
    )
    return None if row is None else dict(row)


async def all_availability(conn: Conn) -> list[dict[str, Any]]:
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
    p.waiting_position, p.erased"""


Page: TypeAlias = tuple[list[dict[str, Any]], list[list[Any]]]
"""A page of a list: its rows, and each row's sort key (what a cursor holds)."""


async def _page(
    conn: Conn, query: str, subject: str, key: Callable[[asyncpg.Record], list[Any]], *args: Any
) -> Page:
    """The rows of a keyset-paged ``query`` (``$1`` the subject, then the sort key of the
    row to start after, then the limit), and each row's sort key by ``key``."""
    rows = await conn.fetch(query, subject, *args)
    return [_without_keys(r) for r in rows], [key(r) for r in rows]


def _without_keys(row: asyncpg.Record) -> dict[str, Any]:
    """A row as the lists show it: without the columns only its sort key needs."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


async def participants(conn: Conn, meeting_id: str) -> list[dict[str, Any]]:
    """The meeting's participants: seated, then waiting in order, then cancelled."""
    rows, _ = await participants_page(conn, meeting_id)
    return rows


async def participants_page(
    conn: Conn, meeting_id: str, *, limit: int | None = None, after: Sequence[Any] | None = None
) -> Page:
    """At most ``limit`` of :func:`participants` after the sort key ``after``, and each
    row's sort key (a cursor). Sorted by status, waiting order (``wait_seq``), time of
    registration and id: the list's own order."""
    query = f"""SELECT {_COLUMNS}, coalesce(p.wait_seq, 0) AS _wait_seq,
                   p.registered_at AS _registered_at
            FROM {_ranked("$1")}
            WHERE $2::text IS NULL
               OR (p.status, coalesce(p.wait_seq, 0), p.registered_at, p.registration_id)
                  > ($2::text, $3::bigint, $4::text::timestamptz, $5::text)
            ORDER BY p.status, coalesce(p.wait_seq, 0), p.registered_at, p.registration_id
            LIMIT $6"""

    def key(r: asyncpg.Record) -> list[Any]:
        return [r["status"], r["_wait_seq"], r["_registered_at"].isoformat(), r["registration_id"]]

    return await _page(conn, query, meeting_id, key, *(after or (None,) * 4), limit)


async def municipality_registrations_page(
    conn: Conn, code: str, *, limit: int | None = None, after: Sequence[Any] | None = None
) -> Page:
    """At most ``limit`` of the municipality ``code``'s registrations, by meeting start and
    time of registration, after the sort key ``after``, and each row's sort key."""
    where = "SELECT meeting_id FROM participant_view WHERE municipality_code = $1"
    query = f"""SELECT {_COLUMNS}, m.title AS meeting_title, m.starts_at,
                   m.cancelled AS meeting_cancelled, p.registered_at AS _registered_at
            FROM {_ranked(where)} JOIN meeting_view m USING (meeting_id)
            WHERE p.municipality_code = $1
              AND ($2::text IS NULL
                   OR (m.starts_at, p.registered_at, p.registration_id)
                      > ($2::text::timestamptz, $3::text::timestamptz, $4::text))
            ORDER BY m.starts_at, p.registered_at, p.registration_id
            LIMIT $5"""

    def key(r: asyncpg.Record) -> list[Any]:
        return [r["starts_at"].isoformat(), r["_registered_at"].isoformat(), r["registration_id"]]

    return await _page(conn, query, code, key, *(after or (None,) * 3), limit)


async def upcoming_meetings(conn: Conn, now: datetime) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT m.*, a.taken, a.waiting,
                  CASE WHEN a.cancelled THEN 0 ELSE greatest(a.seats - a.taken, 0) END AS free
           FROM meeting_view m JOIN availability_view a USING (meeting_id)
           WHERE m.ends_at >= $1 AND NOT m.cancelled ORDER BY m.starts_at""",
        now,
    )
    return [dict(r) for r in rows]


class ReadModelEnds:
    """When meetings end (the ``MeetingEnds`` port), as ``meeting_view`` says on ``conn``."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def ends(self, meeting_ids: Collection[str]) -> dict[str, datetime]:
        rows = await self.conn.fetch(
            "SELECT meeting_id, ends_at FROM meeting_view WHERE meeting_id = ANY($1::text[])",
            sorted(meeting_ids),
        )
        return {r["meeting_id"]: r["ends_at"] for r in rows}
