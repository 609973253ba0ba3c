"""The delivery worker: sends due deliveries over SMTP, in batches, with retries and back-off.

A sender claims a batch of due rows (``SELECT ... FOR UPDATE SKIP LOCKED``, ``batch_size``
of them) in one transaction, hands them to the mailer one after the other (the mailer
keeps its SMTP connection open between them), and records every outcome (sent, retry
later, failed) with its ``NotificationSent``/``NotificationFailed`` event and the feed in
that same transaction, a few statements for the whole batch. ``senders`` of them run at
once, each on its own SMTP connection; several instances of the service share the rows the
same way (SKIP LOCKED), so no row is sent by two of them at the same time.

At-least-once, honestly: if the process dies after the SMTP server accepted some messages
of a batch but before the batch's transaction commits, those rows are still queued and
their messages are sent again, once, with the same ``Message-ID`` (derived from the
notification id), so a mail client or server that dedupes by Message-ID shows them once.
The window is the time a batch takes to send (at most ``batch_size`` messages) plus its
commit. We do not pretend to do better than SMTP allows. If only the database goes away
in that window (the process lives on), the worker remembers the accepted messages and,
when it claims those rows again, records them as sent without mailing them again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from prometheus_client import Counter

from contracts.base import EventPayload
from contracts.notifications import NOTIFICATION_TOPIC, NotificationFailed, NotificationSent
from services.kernel.eventstore import Append, EventStore, NewEvent
from services.notifications.adapters import postgres as db
from services.notifications.adapters.email import (
    MailContent,
    compose,
    envelope_sender,
    mail_bytes,
    message_id,
)
from services.notifications.service_layer.notifying import notification_stream
from services.notifications.service_layer.ports import DeliveryError, Mailer, OutgoingMail

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


@dataclass
class _Outcomes:
    """What became of one claimed batch, written back in one go."""

    sent: list[tuple[asyncpg.Record, db.Sent]]
    retries: list[db.Retry]
    failures: list[tuple[asyncpg.Record, db.Failed]]


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
        max_per_run: int = 1000,
        batch_size: int = 50,
        senders: int = 1,
    ) -> None:
        self.pool = pool
        self.store = store
        self.mailer = mailer
        self.sender = sender
        self.message_domain = message_domain
        self.retry = retry
        self.max_per_run = max_per_run
        self.batch_size = batch_size
        self.senders = senders
        # Mail the SMTP server accepted whose "sent" did not commit because the database
        # went away meanwhile: when this process claims the row again, it records it as
        # sent instead of mailing it twice. (Only a crash in that window resends.)
        self._accepted_unrecorded: set[UUID] = set()

    async def deliver_due(self, now: datetime) -> int:
        """Try each delivery due at ``now`` once (at most ``max_per_run``); return how many
        attempts were made. ``senders`` batches go at once, each on its own connection."""
        budget = self.max_per_run
        attempts = 0

        async def sender() -> None:
            nonlocal budget, attempts
            while budget > 0:
                take = min(self.batch_size, budget)
                budget -= take
                done = await self._deliver_batch(now, take)
                budget += take - done
                attempts += done
                if done < take:
                    return  # nothing more is due (or others have it)

        results = await asyncio.gather(
            *(sender() for _ in range(max(self.senders, 1))), return_exceptions=True
        )
        # Each sender's batches are their own transactions: let the others finish theirs,
        # then report the first failure (the loop logs it and tries again).
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return attempts

    async def _deliver_batch(self, now: datetime, limit: int) -> int:
        async with self.pool().acquire() as conn, conn.transaction():
            rows = await db.claim_due_deliveries(conn, now, limit)
            if not rows:
                return 0
            outcomes = _Outcomes([], [], [])
            for row in rows:
                await self._attempt(row, now, outcomes)
            await self._record(conn, outcomes, now)
        # Committed: what was accepted is recorded as sent now.
        self._accepted_unrecorded.difference_update(s.notification_id for _, s in outcomes.sent)
        if outcomes.sent:
            DELIVERY_ATTEMPTS.labels("sent").inc(len(outcomes.sent))
            log.info("mail delivered", count=len(outcomes.sent))
        return len(rows)

    async def _attempt(self, row: asyncpg.Record, now: datetime, outcomes: _Outcomes) -> None:
        notification_id: UUID = row["notification_id"]
        attempt = row["attempts"] + 1
        mid = message_id(notification_id, self.message_domain)
        bound = log.bind(notification_id=str(notification_id), attempt=attempt)
        if notification_id in self._accepted_unrecorded:
            bound.info("accepted by the SMTP server before, recording it as sent")
            outcomes.sent.append((row, db.Sent(notification_id, attempt, mid)))
            return
        content = MailContent(
            notification_id=notification_id,
            recipient_email=row["recipient_email"],
            recipient_name=row["recipient_name"],
            subject=row["subject"],
            body_text=row["body_text"],
            body_html=row["body_html"],
            ics=row["ics"],
            calendar_method=row["calendar_method"],
        )
        message = compose(content, sender=self.sender, domain=self.message_domain, now=now)
        mail = OutgoingMail(
            mail_from=envelope_sender(self.sender),
            rcpt_to=content.recipient_email,
            data=mail_bytes(message),
        )
        try:
            await self.mailer.send(mail)
        except DeliveryError as exc:
            if not exc.permanent and attempt < self.retry.max_attempts:
                next_at = now + self.retry.delay(attempt)
                outcomes.retries.append(db.Retry(notification_id, attempt, exc.reason, next_at))
                bound.warning("delivery failed, will retry", next_attempt_at=next_at.isoformat())
                DELIVERY_ATTEMPTS.labels("retry").inc()
                return
            outcomes.failures.append(
                (
                    row,
                    db.Failed(
                        notification_id,
                        attempt,
                        exc.reason,
                        exc.permanent,
                        exc.smtp_code,
                        exc.enhanced_status,
                    ),
                )
            )
            bound.warning("delivery failed for good", permanent=exc.permanent)
            DELIVERY_ATTEMPTS.labels(
                "failed_permanent" if exc.permanent else "failed_exhausted"
            ).inc()
            return
        self._accepted_unrecorded.add(notification_id)
        outcomes.sent.append((row, db.Sent(notification_id, attempt, mid)))

    async def _record(self, conn: asyncpg.Connection, outcomes: _Outcomes, now: datetime) -> None:
        """The rows, their events (one append for the batch) and the feed."""
        await db.record_outcomes(
            conn,
            [s for _, s in outcomes.sent],
            outcomes.retries,
            [f for _, f in outcomes.failures],
            now,
        )
        payloads: list[tuple[UUID, EventPayload]] = [
            (
                s.notification_id,
                NotificationSent.model_validate(
                    {**_common(row, now), "attempts": s.attempts, "message_id": s.message_id}
                ),
            )
            for row, s in outcomes.sent
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
            for row, f in outcomes.failures
        ]
        if not payloads:
            return
        streams = [notification_stream(nid) for nid, _ in payloads]
        versions = await self.store.stream_versions(conn, streams)
        events = [
            (stream, payload.type_name(), payload.to_data())
            for stream, (_, payload) in zip(streams, payloads, strict=True)
        ]
        await self.store.append_many(
            conn,
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
        await db.update_feed(conn, [(event_type, data) for _, event_type, data in events])


def _common(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
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
