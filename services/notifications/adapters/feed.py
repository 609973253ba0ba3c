"""The notification feed projection: each queued notification and where its delivery
stands, per recipient and per municipality; rebuilt from the event store while the
service runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from contracts.notifications import NotificationFailed, NotificationQueued, NotificationSent
from services.kernel.privacy import SealError, Vault
from services.notifications.service_layer.ports import FeedEntry

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


async def rebuild_feed(
    pool: asyncpg.Pool, vault: Vault, progress: Callable[[int, int], None] | None = None
) -> int:
    """Empty the feed and replay every notification event into it; return how many.

    One transaction: TRUNCATE locks the feed, so a worker that records a new event waits
    for the rebuild and then applies its own change; every event committed before it is
    replayed here. TRUNCATE's lock makes readers of the feed wait for the rebuild too.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("TRUNCATE notification_feed")
        types = list(FEED_STATUS)
        total: int = await conn.fetchval(
            "SELECT count(*) FROM events WHERE event_type = ANY($1::text[])", types
        )
        done = 0
        async for row in conn.cursor(
            """SELECT event_type, data FROM events WHERE event_type = ANY($1::text[])
               ORDER BY position""",
            types,
        ):
            await apply_to_feed(conn, row["event_type"], row["data"], vault)
            done += 1
            if progress is not None and done % 500 == 0:
                progress(done, total)
        if progress is not None:
            progress(done, total)
        return done
