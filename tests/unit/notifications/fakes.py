"""In-memory implementations of the notifier's ports, for unit tests.

``FakeStore`` keeps the view, the deliveries, the appended events and the feed in
dictionaries, and logs every call (name and size), so a test can see both what was written
and how many calls it took. ``FakeVault`` seals into a dictionary and erases by forgetting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from services.kernel.eventstore import Append
from services.kernel.privacy import ERASED, PersonKey, SealError
from services.notifications.domain import events as domain
from services.notifications.domain.model import Meeting, Person, Registration
from services.notifications.service_layer.handlers import Opened, SourceEvent
from services.notifications.service_layer.ports import FeedEntry, NewDelivery, ReminderChange


class NoStores:
    """For use cases that must work through the store they are given."""

    def transaction(self) -> object:
        raise AssertionError("the use case works through the store it is given")


@dataclass
class FakeStore:
    meetings_by_id: dict[str, Meeting] = field(default_factory=dict)
    registrations_by_id: dict[str, Registration] = field(default_factory=dict)
    reminders: dict[str, tuple[datetime, datetime, datetime | None]] = field(default_factory=dict)
    deliveries: dict[UUID, NewDelivery] = field(default_factory=dict)
    appended: list[Append] = field(default_factory=list)
    feed: dict[UUID, FeedEntry] = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=dict)
    scrubbed: list[str] = field(default_factory=list)
    calls: list[tuple[str, int]] = field(default_factory=list)
    registrations_read: int = 0

    def called(self, name: str) -> list[int]:
        """The sizes of the calls of one method, in order."""
        return [size for call, size in self.calls if call == name]

    async def meetings(
        self, meeting_ids: Collection[str], *, lock: bool = False
    ) -> dict[str, Meeting]:
        self.calls.append(("meetings", len(meeting_ids)))
        return {m: self.meetings_by_id[m] for m in meeting_ids if m in self.meetings_by_id}

    async def registrations(
        self, registration_ids: Collection[str], *, of_meetings: Collection[str] = ()
    ) -> list[Registration]:
        self.calls.append(("registrations", len(registration_ids) + len(of_meetings)))
        found = sorted(
            (
                r
                for r in self.registrations_by_id.values()
                if r.registration_id in registration_ids or r.meeting_id in of_meetings
            ),
            key=lambda r: r.registration_id,
        )
        self.registrations_read += len(found)
        return found

    async def network_names(self, slugs: Collection[str]) -> dict[str, str]:
        self.calls.append(("network_names", len(slugs)))
        return {s: self.networks[s] for s in slugs if s in self.networks}

    async def save_meetings(self, meetings: Sequence[Meeting]) -> None:
        self.calls.append(("save_meetings", len(meetings)))
        self.meetings_by_id.update({m.meeting_id: m for m in meetings})

    async def save_registrations(self, registrations: Sequence[Registration]) -> None:
        self.calls.append(("save_registrations", len(registrations)))
        self.registrations_by_id.update({r.registration_id: r for r in registrations})

    async def change_reminders(self, changes: Sequence[ReminderChange]) -> None:
        self.calls.append(("change_reminders", len(changes)))
        for c in changes:
            if c.due_at is None or c.starts_at is None:
                self.reminders.pop(c.meeting_id, None)
                continue
            known = self.reminders.get(c.meeting_id)
            fired = known[2] if known is not None and known[0] == c.starts_at else None
            self.reminders[c.meeting_id] = (c.starts_at, c.due_at, fired)

    async def claim_due_reminder(self, now: datetime) -> tuple[str, datetime] | None:
        due = sorted(
            (due_at, m, starts)
            for m, (starts, due_at, fired) in self.reminders.items()
            if fired is None and due_at <= now
        )
        return None if not due else (due[0][1], due[0][2])

    async def mark_reminder_fired(self, meeting_id: str, now: datetime) -> None:
        starts, due, _ = self.reminders[meeting_id]
        self.reminders[meeting_id] = (starts, due, now)

    async def queue(self, deliveries: Sequence[NewDelivery], now: datetime) -> set[UUID]:
        self.calls.append(("queue", len(deliveries)))
        keys = {d.dedupe_key for d in self.deliveries.values()}
        inserted: set[UUID] = set()
        for d in deliveries:
            if d.notification_id in self.deliveries or d.dedupe_key in keys:
                continue
            self.deliveries[d.notification_id] = d
            keys.add(d.dedupe_key)
            inserted.add(d.notification_id)
        return inserted

    async def append(self, appends: Sequence[Append]) -> None:
        self.calls.append(("append", len(appends)))
        known = {a.stream_id for a in self.appended}
        for a in appends:
            assert a.expected_version == 0, "a notification's stream is new"
            assert a.stream_id not in known, "a notification's stream is new"
        self.appended.extend(appends)

    async def add_to_feed(self, entries: Sequence[FeedEntry]) -> None:
        self.calls.append(("add_to_feed", len(entries)))
        for e in entries:
            self.feed.setdefault(e.notification_id, e)

    async def save_network(self, slug: str, name: str) -> None:
        self.calls.append(("save_network", 1))
        self.networks[slug] = name

    async def scrub_person(self, person_id: str) -> None:
        self.calls.append(("scrub_person", 1))
        self.scrubbed.append(person_id)
        for rid, r in list(self.registrations_by_id.items()):
            if r.participant.person_id == person_id:
                self.registrations_by_id[rid] = Registration(
                    r.registration_id,
                    r.meeting_id,
                    Person(ERASED, "", person_id),
                    r.municipality_code,
                    r.status,
                    r.position,
                    r.calendar_sequence,
                )
        for nid, d in list(self.deliveries.items()):
            if d.person_id == person_id:
                del self.deliveries[nid]  # (the real one keeps a scrubbed, failed row)


@dataclass
class FakeVault:
    """Persons by e-mail; sealed texts in a dictionary; an erased person has no key."""

    persons: dict[str, PersonKey] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)
    cached: dict[str, bytes] = field(default_factory=dict)
    sealed_texts: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)

    def person(self, email: str) -> PersonKey:
        if email not in self.persons:
            n = len(self.persons)
            self.persons[email] = PersonKey(f"person-{n}", hashlib.sha256(email.encode()).digest())
        return self.persons[email]

    def seal(self, person_id: str, fields: dict[str, Any]) -> str:
        text = f"sealed-{len(self.sealed_texts)}"
        self.sealed_texts[text] = (person_id, fields)
        return text

    def erase(self, person_id: str) -> None:
        """The vault's row is gone; a process that cached the key still has it."""
        self.erased.add(person_id)

    def _key(self, person_id: str) -> bytes | None:
        if person_id in self.cached:
            return self.cached[person_id]
        if person_id in self.erased:
            return None
        for p in self.persons.values():
            if p.person_id == person_id:
                self.cached[person_id] = p.key
                return p.key
        return None

    async def open_many(self, items: Sequence[tuple[str, str]]) -> list[Opened]:
        self.calls.append(("open_many", len(items)))
        opened: list[Opened] = []
        for person_id, text in items:
            if text not in self.sealed_texts or self.sealed_texts[text][0] != person_id:
                raise SealError("sealed text does not open")
            opened.append(None if self._key(person_id) is None else self.sealed_texts[text][1])
        return opened

    async def keys(self, person_ids: Iterable[str]) -> dict[str, bytes | None]:
        ids = list(person_ids)
        self.calls.append(("keys", len(ids)))
        return {pid: self._key(pid) for pid in ids}

    async def persons_for(self, emails: Sequence[str]) -> list[PersonKey]:
        self.calls.append(("persons_for", len(emails)))
        return [self.person(e) for e in emails]

    def forget(self, person_id: str) -> None:
        self.cached.pop(person_id, None)


def registration_source(
    vault: FakeVault,
    event_id: str,
    kind: type[domain.RegistrationConfirmed]
    | type[domain.RegistrationWaitlisted]
    | type[domain.RegistrationPromoted]
    | type[domain.RegistrationCancelled],
    meeting_id: str,
    registration_id: str,
    who: Person,
    **facts: Any,
) -> SourceEvent:
    """A registration event as the edge hands it over: the participant sealed."""
    person = vault.person(who.email)
    text = vault.seal(person.person_id, {"name": who.name, "email": who.email})

    def translate(opened: Sequence[Opened]) -> domain.MeetingEvent:
        fields = opened[0]
        participant = (
            Person(ERASED, "", person.person_id)
            if fields is None
            else Person(fields["name"], fields["email"], person.person_id)
        )
        return kind(meeting_id, registration_id, participant, "751", **facts)

    return SourceEvent(event_id, translate, sealed=((person.person_id, text),))


def plain_source(event_id: str, event: domain.MeetingEvent) -> SourceEvent:
    """A meeting event (nothing sealed in it)."""
    return SourceEvent(event_id, lambda _: event)
