"""Applying source events: update the view, decide, and queue what is to be sent.

Everything a source event causes happens in the subscriber's transaction (the one that
records the event id as processed): the view, the reminder schedule, the ``deliveries``
rows and the ``NotificationQueued`` events with their outbox rows. A redelivered event
finds its id processed and causes nothing; on top of that every delivery has a
deterministic key (source + recipient + kind + registration) under a unique index.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

import asyncpg
import structlog

from contracts.notifications import NOTIFICATION_TOPIC, NotificationQueued
from services.kernel.clock import Clock
from services.kernel.eventstore import EventStore, NewEvent
from services.kernel.privacy import Vault, seal
from services.notifications.adapters import postgres as db
from services.notifications.adapters.calendar import calendar_object
from services.notifications.adapters.texts import render
from services.notifications.domain.decisions import (
    Policy,
    decide,
    decide_reminders,
    decide_welcome,
    evolve_meeting,
    evolve_registrations,
    reminder_due_at,
)
from services.notifications.domain.events import (
    MeetingCancelled,
    MeetingEvent,
    MeetingRescheduled,
    MeetingScheduled,
    MembershipStarted,
)
from services.notifications.domain.model import NotificationIntent

log = structlog.get_logger(__name__)

_ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://netvaerk.kl.dk/notifications")


def notification_stream(notification_id: UUID) -> str:
    return f"notification-{notification_id}"


def dedupe_key(source: str, person_id: str, intent: NotificationIntent) -> str:
    """Source (event id or reminder), recipient, kind and registration: one delivery each.

    The recipient is their person id (the same for the same address until they are
    erased), never the address: the key outlives an erasure.
    """
    return f"{source}|{person_id}|{intent.kind.value}|{intent.registration_id or '-'}"


class Notifier:
    """The use cases around source events and reminders."""

    def __init__(
        self,
        store: EventStore,
        policy: Policy,
        clock: Clock,
        pool: Callable[[], asyncpg.Pool],
        vault: Vault,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.pool = pool
        self.vault = vault

    async def apply_meeting_event(
        self, conn: asyncpg.Connection, event: MeetingEvent, source_event_id: str
    ) -> int:
        """Apply a meeting or registration event; return how many notifications it queued.

        Raises ``UnknownMeetingError`` for an event about a meeting never scheduled.
        """
        meeting_id = (
            event.meeting.meeting_id if isinstance(event, MeetingScheduled) else event.meeting_id
        )
        meeting = await db.load_meeting(conn, meeting_id, for_update=True)
        registrations = await db.load_registrations(conn, meeting_id)
        intents = decide(event, meeting, registrations, self.policy)
        after = evolve_meeting(meeting, event)
        if after is not None and after != meeting:
            await db.save_meeting(conn, after)
        await db.save_registrations(conn, evolve_registrations(registrations, event, intents))
        if after is not None and isinstance(event, MeetingScheduled | MeetingRescheduled):
            due = reminder_due_at(after, self.policy)
            if due is not None:
                await db.schedule_reminder(conn, meeting_id, after.starts_at, due)
        elif isinstance(event, MeetingCancelled):
            await db.drop_reminder(conn, meeting_id)
        return await self._queue_all(conn, intents, source_event_id, source_event_id)

    async def apply_membership_started(
        self, conn: asyncpg.Connection, event: MembershipStarted, source_event_id: str
    ) -> int:
        return await self._queue_all(conn, decide_welcome(event), source_event_id, source_event_id)

    async def run_due_reminders(self, now: datetime) -> int:
        """Queue the reminders due at ``now``; return how many. Safe with several instances."""
        queued = 0
        while True:
            async with self.pool().acquire() as conn, conn.transaction():
                row = await db.claim_due_reminder(conn, now)
                if row is None:
                    return queued
                meeting_id = row["meeting_id"]
                meeting = await db.load_meeting(conn, meeting_id)
                if meeting is not None:
                    intents = decide_reminders(
                        meeting, await db.load_registrations(conn, meeting_id), now, self.policy
                    )
                    source = f"reminder:{meeting_id}:{row['starts_at'].isoformat()}"
                    queued += await self._queue_all(conn, intents, source, None, now=now)
                await db.mark_reminder_fired(conn, meeting_id, now)

    async def _queue_all(
        self,
        conn: asyncpg.Connection,
        intents: list[NotificationIntent],
        source: str,
        source_event_id: str | None,
        now: datetime | None = None,
    ) -> int:
        now = now or self.clock.now()
        queued = 0
        for intent in intents:
            queued += await self._queue(conn, intent, source, source_event_id, now)
        if intents:
            log.info("notifications queued", decided=len(intents), queued=queued)
        return queued

    async def _queue(
        self,
        conn: asyncpg.Connection,
        intent: NotificationIntent,
        source: str,
        source_event_id: str | None,
        now: datetime,
    ) -> int:
        recipient = intent.recipient
        if recipient.person_id is not None:
            person_id, data_key = recipient.person_id, await self.vault.key(recipient.person_id)
        else:
            person = await self.vault.person_for(recipient.email)
            person_id, data_key = person.person_id, person.key
        if data_key is None or not recipient.email:
            return 0  # the recipient is erased: nothing is sent, nothing is kept
        key = dedupe_key(source, person_id, intent)
        notification_id = uuid5(_ID_NAMESPACE, key)
        text = render(intent)
        ics = None
        if intent.calendar is not None and intent.meeting is not None:
            ics = calendar_object(
                intent.calendar, intent.meeting, intent.recipient, self.policy.organiser, now
            )
        delivery = db.NewDelivery(
            notification_id=notification_id,
            dedupe_key=key,
            kind=intent.kind.value,
            recipient_email=intent.recipient.email,
            recipient_name=intent.recipient.name,
            municipality_code=intent.municipality_code,
            meeting_id=intent.meeting.meeting_id if intent.meeting else None,
            registration_id=intent.registration_id,
            source_event_id=source_event_id,
            subject=text.subject,
            body_text=text.text,
            body_html=text.html,
            ics=ics,
            calendar_method=intent.calendar.method if intent.calendar else None,
            person_id=person_id,
            recipient_sealed=seal(person_id, data_key, {"email": recipient.email}),
        )
        if not await db.insert_delivery(conn, delivery, now):
            return 0
        payload = NotificationQueued(
            notification_id=str(notification_id),
            kind=delivery.kind,
            recipient_person_id=person_id,
            recipient_sealed=delivery.recipient_sealed,
            municipality_code=delivery.municipality_code,
            meeting_id=delivery.meeting_id,
            registration_id=delivery.registration_id,
            occurred_at=now,
            subject=delivery.subject,
            source_event_id=source_event_id,
            calendar_method=intent.calendar.method if intent.calendar else None,
        )
        await self.store.append(
            conn,
            stream_id=notification_stream(notification_id),
            expected_version=0,
            events=[NewEvent(payload.type_name(), payload.to_data(), time=now)],
            topic=NOTIFICATION_TOPIC,
            causation_id=source_event_id,
        )
        await db.apply_to_feed(conn, payload.type_name(), payload.to_data(), self.vault)
        return 1
