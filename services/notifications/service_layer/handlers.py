"""Applying source events: update the view, decide, and queue what is to be sent.

Everything a batch of source events causes happens in the subscriber's transaction (the
one that records their ids as processed): the view, the reminder schedule, the
``deliveries`` rows, the ``NotificationQueued`` events with their outbox rows and the feed.
A redelivered event finds its id processed and causes nothing; on top of that every
delivery has a deterministic key (source + recipient + kind + registration) under a unique
index.

A batch is applied in order, but its work is done in bulk: the sealed persons of the batch
opened with one vault call, each meeting loaded (and locked) once with the registrations
the batch needs in one query, every event decided and evolved on that state in memory,
then the changed rows, the deliveries, their events and the feed written a few statements
for the whole batch. A registration event needs its own registration only; only a
meeting-wide event (rescheduled, program changed, cancelled) loads every registration of
its meeting, because it tells everyone.

Erasures and network names are barriers: the work buffered before one is written first,
and what follows it is opened and decided only after it. So an erasure in the middle of a
batch scrubs everything queued before it (those mails are never sent) and nothing after it
can open the person's data: the vault's cached key is dropped at the barrier, and the next
part of the batch fetches keys afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog

from contracts.notifications import NOTIFICATION_TOPIC, NotificationQueued
from services.kernel.clock import Clock
from services.kernel.eventstore import Append, NewEvent
from services.kernel.privacy import SealError, seal
from services.notifications.domain.decisions import (
    Policy,
    decide,
    decide_reminders,
    decide_welcome,
    evolve_meeting,
    evolve_registrations,
    meeting_of,
    needs_every_registration,
    registration_of,
    reminder_due_at,
)
from services.notifications.domain.events import (
    MeetingCancelled,
    MeetingEvent,
    MeetingRescheduled,
    MeetingScheduled,
    MembershipStarted,
)
from services.notifications.domain.model import (
    Meeting,
    NotificationIntent,
    Registration,
    notification_stream,
)
from services.notifications.service_layer.ports import (
    FeedEntry,
    KeyVault,
    Messages,
    NewDelivery,
    NotificationStore,
    NotificationStores,
    ReminderChange,
)

log = structlog.get_logger(__name__)

_ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://netvaerk.kl.dk/notifications")


def dedupe_key(source: str, person_id: str, intent: NotificationIntent) -> str:
    """Source (event id or reminder), recipient, kind and registration: one delivery each.

    The recipient is their person id (the same for the same address until they are
    erased), never the address: the key outlives an erasure.
    """
    return f"{source}|{person_id}|{intent.kind.value}|{intent.registration_id or '-'}"


class UnreadableEventError(Exception):
    """A source event's sealed person does not open (tampered, or sealed for another)."""


Opened = dict[str, Any] | None
"""A sealed person's fields once opened; None when the person is erased."""


@dataclass(frozen=True)
class SourceEvent:
    """A consumed event as the notifier takes it: its id, the sealed persons it names
    (person id, sealed text), and how to make the domain event once they are opened.

    The edge knows the wire and builds ``translate``; the notifier decides when to open
    (after any erasure before it in the batch).
    """

    event_id: str
    translate: Callable[[Sequence[Opened]], MeetingEvent | MembershipStarted]
    sealed: tuple[tuple[str, str], ...] = ()
    correlation_id: str | None = None


@dataclass(frozen=True)
class Erasure:
    """A person was erased: forget their key, scrub them (a barrier in a batch)."""

    person_id: str


@dataclass(frozen=True)
class NetworkNamed:
    """A network's name, for welcome mails (a barrier in a batch)."""

    slug: str
    name: str


Inbound = SourceEvent | Erasure | NetworkNamed


@dataclass(frozen=True)
class Decided:
    """The messages decided from one source (an event, a reminder), to :meth:`queue`."""

    intents: list[NotificationIntent]
    source: str
    source_event_id: str | None
    correlation_id: str | None = None


@dataclass
class _View:
    """The part of the view a run of events works on, changed in memory."""

    meetings: dict[str, Meeting]
    registrations: dict[str, Registration]
    changed_meetings: dict[str, Meeting] = field(default_factory=dict)
    changed_registrations: dict[str, Registration] = field(default_factory=dict)
    reminders: list[ReminderChange] = field(default_factory=list)

    def of_meeting(self, meeting_id: str) -> list[Registration]:
        return sorted(
            (r for r in self.registrations.values() if r.meeting_id == meeting_id),
            key=lambda r: r.registration_id,
        )


@dataclass(eq=False)
class Notifier:
    """The use cases around source events and reminders."""

    policy: Policy
    clock: Clock
    vault: KeyVault
    stores: NotificationStores
    messages: Messages

    async def apply(self, store: NotificationStore, batch: Sequence[Inbound]) -> int:
        """Apply a batch of consumed events in order; return how many notifications it
        queued. Raises ``UnknownMeetingError`` for an event about a meeting never
        scheduled and :class:`UnreadableEventError` for a sealed person that does not open
        (the whole batch is then undone; the subscriber applies it one by one)."""
        queued = 0
        run: list[SourceEvent] = []
        for item in batch:
            if isinstance(item, SourceEvent):
                run.append(item)
                continue
            queued += await self._apply_run(store, run)
            run = []
            if isinstance(item, Erasure):
                self.vault.forget(item.person_id)
                await store.scrub_person(item.person_id)
            else:
                await store.save_network(item.slug, item.name)
        return queued + await self._apply_run(store, run)

    async def _apply_run(self, store: NotificationStore, run: Sequence[SourceEvent]) -> int:
        """Events with no barrier between them: opened, loaded, decided, written in bulk."""
        if not run:
            return 0
        events = await self._open(run)
        meeting_events = [e for e in events if not isinstance(e, MembershipStarted)]
        wanted = {registration_of(e) for e in meeting_events} - {None}
        view = _View(
            meetings=await store.meetings({meeting_of(e) for e in meeting_events}, lock=True),
            registrations={
                r.registration_id: r
                for r in await store.registrations(
                    {rid for rid in wanted if rid is not None},
                    of_meetings={
                        meeting_of(e) for e in meeting_events if needs_every_registration(e)
                    },
                )
            },
        )
        names = await store.network_names(
            {e.network_slug for e in events if isinstance(e, MembershipStarted)}
        )
        decided: list[Decided] = []
        for item, event in zip(run, events, strict=True):
            if isinstance(event, MembershipStarted):
                if event.network_name is None and event.network_slug in names:
                    event = replace(event, network_name=names[event.network_slug])
                intents = decide_welcome(event)
            else:
                intents = self._decide(view, event)
            decided.append(Decided(intents, item.event_id, item.event_id, item.correlation_id))
        await store.save_meetings(list(view.changed_meetings.values()))
        await store.save_registrations(list(view.changed_registrations.values()))
        await store.change_reminders(view.reminders)
        return await self.queue(store, decided, self.clock.now())

    async def _open(self, run: Sequence[SourceEvent]) -> list[MeetingEvent | MembershipStarted]:
        sealed = [pair for item in run for pair in item.sealed]
        try:
            opened = await self.vault.open_many(sealed) if sealed else []
        except SealError as exc:
            raise UnreadableEventError("a sealed person does not open") from exc
        events: list[MeetingEvent | MembershipStarted] = []
        at = 0
        for item in run:
            events.append(item.translate(opened[at : at + len(item.sealed)]))
            at += len(item.sealed)
        return events

    def _decide(self, view: _View, event: MeetingEvent) -> list[NotificationIntent]:
        """Decide and evolve one meeting event on the in-memory view."""
        meeting_id = meeting_of(event)
        meeting = view.meetings.get(meeting_id)
        if needs_every_registration(event):
            registrations = view.of_meeting(meeting_id)
        else:
            known = view.registrations.get(registration_of(event) or "")
            registrations = [] if known is None else [known]
        intents = decide(event, meeting, registrations, self.policy)
        after = evolve_meeting(meeting, event)
        if after is not None and after != meeting:
            view.meetings[meeting_id] = view.changed_meetings[meeting_id] = after
        for reg in evolve_registrations(registrations, event, intents):
            view.registrations[reg.registration_id] = reg
            view.changed_registrations[reg.registration_id] = reg
        if after is not None and isinstance(event, MeetingScheduled | MeetingRescheduled):
            due = reminder_due_at(after, self.policy)
            if due is not None:
                view.reminders.append(ReminderChange(meeting_id, after.starts_at, due))
        elif isinstance(event, MeetingCancelled):
            view.reminders.append(ReminderChange(meeting_id))
        return intents

    async def run_due_reminders(self, now: datetime) -> int:
        """Queue the reminders due at ``now``; return how many. Safe with several instances."""
        queued = 0
        while True:
            async with self.stores.transaction() as store:
                due = await store.claim_due_reminder(now)
                if due is None:
                    return queued
                meeting_id, starts_at = due
                # Not locked: the subscriber locks a meeting, then its reminder; this holds
                # the reminder, so locking the meeting too could deadlock with it.
                meeting = (await store.meetings([meeting_id])).get(meeting_id)
                if meeting is not None:
                    intents = decide_reminders(
                        meeting,
                        await store.registrations((), of_meetings=[meeting_id]),
                        now,
                        self.policy,
                    )
                    source = f"reminder:{meeting_id}:{starts_at.isoformat()}"
                    queued += await self.queue(store, [Decided(intents, source, None)], now)
                await store.mark_reminder_fired(meeting_id, now)

    async def queue(
        self, store: NotificationStore, decided: Sequence[Decided], now: datetime
    ) -> int:
        """Queue every decided message whose recipient is not erased: the deliveries, their
        ``NotificationQueued`` events and the feed, in bulk."""
        # A recipient without an address is erased: nothing is sent, nothing is kept.
        intents = [(d, i) for d in decided for i in d.intents if i.recipient.email]
        if not intents:
            return 0
        recipients = await self._recipient_keys([intent for _, intent in intents])
        deliveries: dict[UUID, tuple[Decided, NotificationIntent, NewDelivery]] = {}
        for d, intent in intents:
            person_id, data_key = recipients[id(intent)]
            recipient = intent.recipient
            if data_key is None:
                continue  # the recipient is erased: nothing is sent, nothing is kept
            key = dedupe_key(d.source, person_id, intent)
            notification_id = uuid5(_ID_NAMESPACE, key)
            if notification_id in deliveries:
                continue
            text = self.messages.text(intent)
            ics = None
            if intent.calendar is not None and intent.meeting is not None:
                ics = self.messages.calendar(
                    intent.calendar, intent.meeting, recipient, self.policy.organiser, now
                )
            deliveries[notification_id] = (
                d,
                intent,
                NewDelivery(
                    notification_id=notification_id,
                    dedupe_key=key,
                    kind=intent.kind.value,
                    recipient_email=recipient.email,
                    recipient_name=recipient.name,
                    municipality_code=intent.municipality_code,
                    meeting_id=intent.meeting.meeting_id if intent.meeting else None,
                    registration_id=intent.registration_id,
                    source_event_id=d.source_event_id,
                    subject=text.subject,
                    body_text=text.text,
                    body_html=text.html,
                    ics=ics,
                    calendar_method=intent.calendar.method if intent.calendar else None,
                    person_id=person_id,
                    recipient_sealed=seal(person_id, data_key, {"email": recipient.email}),
                ),
            )
        inserted = await store.queue([new for _, _, new in deliveries.values()], now)
        appends: list[Append] = []
        feed: list[FeedEntry] = []
        for notification_id, (d, intent, new) in deliveries.items():
            if notification_id not in inserted:
                continue  # queued before (a redelivery past the dedupe): nothing new
            payload = NotificationQueued(
                notification_id=str(notification_id),
                kind=new.kind,
                recipient_person_id=new.person_id,
                recipient_sealed=new.recipient_sealed,
                municipality_code=new.municipality_code,
                meeting_id=new.meeting_id,
                registration_id=new.registration_id,
                occurred_at=now,
                subject=new.subject,
                source_event_id=new.source_event_id,
                calendar_method=new.calendar_method,
            )
            data = payload.to_data()
            appends.append(
                Append(
                    notification_stream(notification_id),
                    0,
                    [NewEvent(payload.type_name(), data, time=now)],
                    NOTIFICATION_TOPIC,
                    causation_id=new.source_event_id,
                    correlation_id=d.correlation_id,
                )
            )
            feed.append(FeedEntry.of_queued(data, intent.recipient.email))
        await store.append(appends)
        await store.add_to_feed(feed)
        log.info("notifications queued", decided=sum(len(d.intents) for d in decided),
                 queued=len(appends))  # fmt: skip
        return len(appends)

    async def _recipient_keys(
        self, intents: Sequence[NotificationIntent]
    ) -> dict[int, tuple[str, bytes | None]]:
        """Each intent's recipient (person id, data key; None when erased), two vault calls:
        the keys of known persons, and the persons of the addresses without one."""
        keys = await self.vault.keys(
            {i.recipient.person_id for i in intents if i.recipient.person_id is not None}
        )
        emails = sorted({i.recipient.email for i in intents if i.recipient.person_id is None})
        persons = (
            dict(zip(emails, await self.vault.persons_for(emails), strict=True)) if emails else {}
        )
        found: dict[int, tuple[str, bytes | None]] = {}
        for intent in intents:
            pid = intent.recipient.person_id
            if pid is not None:
                found[id(intent)] = (pid, keys.get(pid))
            else:
                person = persons[intent.recipient.email]
                found[id(intent)] = (person.person_id, person.key)
        return found
