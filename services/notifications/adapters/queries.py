"""Read-side queries for the HTTP API: the feed and the deliveries, paginated."""

from __future__ import annotations

from typing import Any

import asyncpg

FEED_COLUMNS = """notification_id, kind, recipient_email, municipality_code, meeting_id,
    registration_id, subject, status, attempts, reason, permanent, queued_at, updated_at"""


async def feed_for_recipient(
    pool: asyncpg.Pool, person_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The feed of one recipient, by the vault's person id of their address (one person
    per address, compared as :mod:`services.kernel.emails` says)."""
    return await _feed(pool, "recipient_person_id", person_id, limit, offset)


async def feed_for_municipality(
    pool: asyncpg.Pool, code: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    return await _feed(pool, "municipality_code", code, limit, offset)


async def _feed(
    pool: asyncpg.Pool, column: str, value: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of the feed where ``column`` (one of ours, never input) is ``value``."""
    rows = await pool.fetch(
        f"""SELECT {FEED_COLUMNS}, count(*) OVER () AS total FROM notification_feed
            WHERE {column} = $1
            ORDER BY queued_at DESC, notification_id LIMIT $2 OFFSET $3""",
        value,
        limit,
        offset,
    )
    return _page(rows) if rows else ([], await _count(pool, f"{column} = $1", value))


async def deliveries(
    pool: asyncpg.Pool, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    rows = await pool.fetch(
        """SELECT notification_id, kind, recipient_email, municipality_code, meeting_id,
                  registration_id, subject, status, attempts, next_attempt_at, last_error,
                  permanent, created_at, finished_at, count(*) OVER () AS total
           FROM deliveries WHERE ($1::text IS NULL OR status = $1)
           ORDER BY created_at DESC, notification_id LIMIT $2 OFFSET $3""",
        status,
        limit,
        offset,
    )
    if rows:
        return _page(rows)
    total: int = await pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE ($1::text IS NULL OR status = $1)", status
    )
    return [], total


def _page(rows: list[asyncpg.Record]) -> tuple[list[dict[str, Any]], int]:
    total = int(rows[0]["total"])
    return [{k: v for k, v in dict(r).items() if k != "total"} for r in rows], total


async def _count(pool: asyncpg.Pool, where: str, value: str) -> int:
    total: int = await pool.fetchval(f"SELECT count(*) FROM notification_feed WHERE {where}", value)
    return total
