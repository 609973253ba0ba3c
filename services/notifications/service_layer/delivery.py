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
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

import structlog
from prometheus_client import Counter

from services.notifications.service_layer.ports import (
    Deliveries,
    DeliveryError,
    DueDelivery,
    Failed,
    MailComposer,
    Mailer,
    Retry,
    Sent,
)

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

    sent: list[tuple[DueDelivery, Sent]]
    retries: list[Retry]
    failures: list[tuple[DueDelivery, Failed]]


@dataclass(eq=False)
class DeliveryWorker:
    """Sends what is due. Call :meth:`deliver_due` with the current time (the clock's)."""

    deliveries: Deliveries
    mailer: Mailer
    composer: MailComposer
    _: KW_ONLY
    retry: RetryPolicy = RetryPolicy()
    max_per_run: int = 1000
    batch_size: int = 50
    senders: int = 1
    _accepted_unrecorded: set[UUID] = field(default_factory=set, init=False, repr=False)
    """Mail the SMTP server accepted whose "sent" did not commit because the database went
    away meanwhile: when this process claims the row again, it records it as sent instead of
    mailing it twice. (Only a crash in that window resends.)"""

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
        async with self.deliveries.batch() as batch:
            rows = await batch.claim(now, limit)
            if not rows:
                return 0
            outcomes = _Outcomes([], [], [])
            for row in rows:
                await self._attempt(row, now, outcomes)
            await batch.record(outcomes.sent, outcomes.retries, outcomes.failures, now)
        # Committed: what was accepted is recorded as sent now.
        self._accepted_unrecorded.difference_update(s.notification_id for _, s in outcomes.sent)
        if outcomes.sent:
            DELIVERY_ATTEMPTS.labels("sent").inc(len(outcomes.sent))
            log.info("mail delivered", count=len(outcomes.sent))
        return len(rows)

    async def _attempt(self, row: DueDelivery, now: datetime, outcomes: _Outcomes) -> None:
        notification_id = row.notification_id
        attempt = row.attempts + 1
        mid = self.composer.message_id(notification_id)
        bound = log.bind(notification_id=str(notification_id), attempt=attempt)
        if notification_id in self._accepted_unrecorded:
            bound.info("accepted by the SMTP server before, recording it as sent")
            outcomes.sent.append((row, Sent(notification_id, attempt, mid)))
            return
        mail = self.composer.compose(row, now)
        try:
            await self.mailer.send(mail)
        except DeliveryError as exc:
            if not exc.permanent and attempt < self.retry.max_attempts:
                next_at = now + self.retry.delay(attempt)
                outcomes.retries.append(Retry(notification_id, attempt, exc.reason, next_at))
                bound.warning("delivery failed, will retry", next_attempt_at=next_at.isoformat())
                DELIVERY_ATTEMPTS.labels("retry").inc()
                return
            outcomes.failures.append(
                (
                    row,
                    Failed(
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
        outcomes.sent.append((row, Sent(notification_id, attempt, mid)))
