"""The :class:`~services.notifications.service_layer.ports.Deliveries` port on PostgreSQL:
the ``deliveries`` outbox, claimed with ``FOR UPDATE SKIP LOCKED`` (several senders and
instances share it), and each outcome recorded with its event and the feed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from contracts.base import EventPayload
from contracts.notifications import NOTIFICATION_TOPIC, NotificationFailed, NotificationSent
from services.kernel.eventstore import Append, EventStore, NewEvent
from services.notifications.adapters.feed import update_feed
from services.notifications.domain.model import notification_stream
from services.notifications.service_layer.ports import DueDelivery, Failed, Retry, Sent

DELIVERIES_CHANNEL = "notifications_deliveries"
"""NOTIFY'd by a transaction that queues mail, so the delivery workers wake at once."""

_DUE = (
    "notification_id, attempts, kind, recipient_email, recipient_name, subject, body_text, "
    "body_html, ics, calendar_method, person_id, recipient_sealed, municipality_code, "
    "meeting_id, registration_id"
)


class PostgresDeliveries:
    def __init__(self, pool: Callable[[], asyncpg.Pool], store: EventStore) -> None:
        self._pool = pool
        self.store = store

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[_Batch]:
        async with self._pool().acquire() as conn, conn.transaction():
            yield _Batch(conn, self.store)


class _Batch:
    def __init__(self, conn: asyncpg.Connection, store: EventStore) -> None:
        self.conn = conn
        self.store = store

    async def claim(self, now: datetime, limit: int) -> list[DueDelivery]:
        return [
            DueDelivery(**dict(row)) for row in await claim_due_deliveries(self.conn, now, limit)
        ]

    async def record(
        self,
        sent: Sequence[tuple[DueDelivery, Sent]],
        retries: Sequence[Retry],
        failures: Sequence[tuple[DueDelivery, Failed]],
        now: datetime,
    ) -> None:
        """The rows, their events (one append for the batch) and the feed."""
        await record_outcomes(
            self.conn, [s for _, s in sent], retries, [f for _, f in failures], now
        )
        payloads: list[tuple[UUID, EventPayload]] = [
            (
                s.notification_id,
                NotificationSent.model_validate(
                    {**_common(row, now), "attempts": s.attempts, "message_id": s.message_id}
                ),
            )
            for row, s in sent
        ]
        payloads += [
            (
                f.notification_id,
                NotificationFailed.model_validate(
                    {
                        **_common(row, now),
                        "reason": f.error[:2000],
                        "permanent": f.permanent,
                        "attempts": f.attempts,
                        "smtp_code": f.smtp_code,
                        "enhanced_status": f.enhanced_status,
                    }
                ),
            )
            for row, f in failures
        ]
        if not payloads:
            return
        streams = [notification_stream(nid) for nid, _ in payloads]
        versions = await self.store.stream_versions(self.conn, streams)
        events = [
            (stream, payload.type_name(), payload.to_data())
            for stream, (_, payload) in zip(streams, payloads, strict=True)
        ]
        await self.store.append_many(
            self.conn,
            [
                Append(
                    stream,
                    versions[stream],
                    [NewEvent(event_type, data, time=now)],
                    NOTIFICATION_TOPIC,
                )
                for stream, event_type, data in events
            ],
        )
        await update_feed(self.conn, [(event_type, data) for _, event_type, data in events])


def _common(row: DueDelivery, now: datetime) -> dict[str, Any]:
    return {
        "notification_id": str(row.notification_id),
        "kind": row.kind,
        "recipient_person_id": row.person_id,
        "recipient_sealed": row.recipient_sealed,
        "municipality_code": row.municipality_code,
        "meeting_id": row.meeting_id,
        "registration_id": row.registration_id,
        "occurred_at": now,
    }


async def claim_due_deliveries(
    conn: asyncpg.Connection, now: datetime, limit: int
) -> list[asyncpg.Record]:
    """Lock up to ``limit`` queued deliveries that are due (other workers skip them)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {_DUE} FROM deliveries WHERE status = 'queued' AND next_attempt_at <= $1
           ORDER BY next_attempt_at, created_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return rows


async def record_outcomes(
    conn: asyncpg.Connection,
    sent: Sequence[Sent],
    retries: Sequence[Retry],
    failures: Sequence[Failed],
    now: datetime,
) -> None:
    """Mark delivered, to-be-retried and failed deliveries, one statement each."""
    if sent:
        await conn.execute(
            """UPDATE deliveries d SET status = 'sent', attempts = u.attempts,
                   message_id = u.message_id, finished_at = $4, last_error = NULL
               FROM unnest($1::uuid[], $2::int[], $3::text[])
                    AS u(notification_id, attempts, message_id)
               WHERE d.notification_id = u.notification_id""",
            [s.notification_id for s in sent],
            [s.attempts for s in sent],
            [s.message_id for s in sent],
            now,
        )
    if retries:
        await conn.execute(
            """UPDATE deliveries d SET attempts = u.attempts, last_error = u.error,
                   next_attempt_at = u.next_attempt_at
               FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[])
                    AS u(notification_id, attempts, error, next_attempt_at)
               WHERE d.notification_id = u.notification_id""",
            [r.notification_id for r in retries],
            [r.attempts for r in retries],
            [r.error for r in retries],
            [r.next_attempt_at for r in retries],
        )
    if failures:
        await conn.execute(
            """UPDATE deliveries d SET status = 'failed', attempts = u.attempts,
                   last_error = u.error, permanent = u.permanent, finished_at = $5
               FROM unnest($1::uuid[], $2::int[], $3::text[], $4::bool[])
                    AS u(notification_id, attempts, error, permanent)
               WHERE d.notification_id = u.notification_id""",
            [f.notification_id for f in failures],
            [f.attempts for f in failures],
            [f.error for f in failures],
            [f.permanent for f in failures],
            now,
        )
