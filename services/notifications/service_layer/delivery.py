"""The delivery worker: sends due deliveries over SMTP, with retries and back-off.

Each delivery is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` in its own transaction,
so several workers (instances) never send the same row at the same time. The outcome
(sent, retry later, failed) and its ``NotificationSent``/``NotificationFailed`` event are
written in the same transaction that holds the row.

At-least-once, honestly: if the process dies after the SMTP server accepted a message but
before that transaction commits, the row is still queued and the message is sent again,
once, with the same ``Message-ID`` (derived from the notification id), so a mail client or
server that dedupes by Message-ID shows it once. We do not pretend to do better than SMTP
allows. If only the database goes away in that window (the process lives on), the worker
remembers the accepted message and, when it claims the row again, records it as sent
without mailing it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from uuid import UUID

import asyncpg
import structlog
from prometheus_client import Counter

from contracts.base import EventPayload
from contracts.notifications import NOTIFICATION_TOPIC, NotificationFailed, NotificationSent
from services.kernel.eventstore import EventStore, NewEvent
from services.notifications.adapters import postgres as db
from services.notifications.adapters.email import MailContent, compose, message_id
from services.notifications.service_layer.notifying import notification_stream
from services.notifications.service_layer.ports import DeliveryError, Mailer

log = structlog.get_logger(__name__)

DELIVERY_ATTEMPTS = Counter(
    "notification_delivery_attempts_total",
    "SMTP delivery attempts by outcome",
    ["outcome"],  # sent, retry, failed_permanent, failed_exhausted
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off: ``base``, 2x``base``, 4x``base`` ... up to ``cap``."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 10

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1 for the first)."""
        factor: int = 2 ** max(attempts - 1, 0)
        delay: timedelta = min(self.base * factor, self.cap)
        return delay


class DeliveryWorker:
    """Sends what is due. Call :meth:`deliver_due` with the current time (the clock's)."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        store: EventStore,
        mailer: Mailer,
        *,
        sender: str,
        message_domain: str = "netvaerk.kl.dk",
        retry: RetryPolicy = RetryPolicy(),
        max_per_run: int = 200,
    ) -> None:
        self.pool = pool
        self.store = store
        self.mailer = mailer
        self.sender = sender
        self.message_domain = message_domain
        self.retry = retry
        self.max_per_run = max_per_run
        # Mail the SMTP server accepted whose "sent" did not commit because the database
        # went away meanwhile: when this process claims the row again, it records it as
        # sent instead of mailing it twice. (Only a crash in that window resends.)
        self._accepted_unrecorded: set[UUID] = set()

    async def deliver_due(self, now: datetime) -> int:
        """Try each delivery due at ``now`` once; return how many attempts were made."""
        attempts = 0
        while attempts < self.max_per_run:
            async with self.pool().acquire() as conn, conn.transaction():
                row = await db.claim_due_delivery(conn, now)
                if row is None:
                    break
                await self._attempt(conn, row, now)
                attempts += 1
            self._accepted_unrecorded.discard(row["notification_id"])  # committed
        return attempts

    async def _attempt(self, conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> None:
        content = MailContent(
            notification_id=row["notification_id"],
            recipient_email=row["recipient_email"],
            recipient_name=row["recipient_name"],
            subject=row["subject"],
            body_text=row["body_text"],
            body_html=row["body_html"],
            ics=row["ics"],
            calendar_method=row["calendar_method"],
        )
        mid = message_id(content.notification_id, self.message_domain)
        message = compose(content, sender=self.sender, domain=self.message_domain, now=now)
        attempt = row["attempts"] + 1
        bound = log.bind(notification_id=str(content.notification_id), attempt=attempt)
        if content.notification_id in self._accepted_unrecorded:
            bound.info("accepted by the SMTP server before, recording it as sent")
        elif await self._send(conn, row, message, attempt, now):
            self._accepted_unrecorded.add(content.notification_id)
        else:
            return  # refused: the retry or the failure is recorded
        await db.record_sent(conn, content.notification_id, attempt, mid, now)
        await self._record(
            conn,
            row,
            NotificationSent.model_validate(
                {**self._common(row, now), "attempts": attempt, "message_id": mid}
            ),
            now,
        )
        bound.info("delivered")
        DELIVERY_ATTEMPTS.labels("sent").inc()

    async def _send(
        self,
        conn: asyncpg.Connection,
        row: asyncpg.Record,
        message: EmailMessage,
        attempt: int,
        now: datetime,
    ) -> bool:
        """Hand the mail to the SMTP server; on refusal record the retry or the failure."""
        bound = log.bind(notification_id=str(row["notification_id"]), attempt=attempt)
        try:
            await self.mailer.send(message)
        except DeliveryError as exc:
            if not exc.permanent and attempt < self.retry.max_attempts:
                next_at = now + self.retry.delay(attempt)
                await db.record_retry(conn, row["notification_id"], attempt, exc.reason, next_at)
                bound.warning("delivery failed, will retry", next_attempt_at=next_at.isoformat())
                DELIVERY_ATTEMPTS.labels("retry").inc()
                return False
            await db.record_failed(
                conn, row["notification_id"], attempt, exc.reason, exc.permanent, now
            )
            await self._record(
                conn,
                row,
                NotificationFailed.model_validate(
                    {
                        **self._common(row, now),
                        "reason": exc.reason[:2000],
                        "permanent": exc.permanent,
                        "attempts": attempt,
                        "smtp_code": exc.smtp_code,
                        "enhanced_status": exc.enhanced_status,
                    }
                ),
                now,
            )
            bound.warning("delivery failed for good", permanent=exc.permanent)
            DELIVERY_ATTEMPTS.labels(
                "failed_permanent" if exc.permanent else "failed_exhausted"
            ).inc()
            return False
        return True

    @staticmethod
    def _common(row: asyncpg.Record, now: datetime) -> dict[str, object]:
        return {
            "notification_id": str(row["notification_id"]),
            "kind": row["kind"],
            "recipient_person_id": row["person_id"],
            "recipient_sealed": row["recipient_sealed"],
            "municipality_code": row["municipality_code"],
            "meeting_id": row["meeting_id"],
            "registration_id": row["registration_id"],
            "occurred_at": now,
        }

    async def _record(
        self, conn: asyncpg.Connection, row: asyncpg.Record, payload: EventPayload, now: datetime
    ) -> None:
        stream = notification_stream(row["notification_id"])
        version = await self.store.stream_version(conn, stream)
        await self.store.append(
            conn,
            stream_id=stream,
            expected_version=version,
            events=[NewEvent(payload.type_name(), payload.to_data(), time=now)],
            topic=NOTIFICATION_TOPIC,
        )
        await db.apply_to_feed(conn, payload.type_name(), payload.to_data(), None)
