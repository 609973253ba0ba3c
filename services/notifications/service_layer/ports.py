"""The ports the use cases need; adapters implement them, unit tests fake them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from services.kernel.eventstore import Append
from services.kernel.privacy import PersonKey
from services.notifications.domain.model import (
    CalendarAction,
    Meeting,
    NotificationIntent,
    Person,
    Registration,
)

# --- writing the message --------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedText:
    """A message's subject, plain text and HTML."""

    subject: str
    text: str
    html: str


class Messages(Protocol):
    """How a decided notification reads: in Danish, with its calendar object."""

    def text(self, intent: NotificationIntent) -> RenderedText:
        """Subject, plain text and HTML of one notification."""
        ...

    def calendar(
        self,
        action: CalendarAction,
        meeting: Meeting,
        attendee: Person,
        organiser: Person,
        stamp: datetime,
    ) -> bytes:
        """The iCalendar object (an invitation or its cancellation) to attach."""
        ...


# --- sending mail ---------------------------------------------------------------------------


class DeliveryError(Exception):
    """The mail was not accepted. ``reason`` is the server's answer or the error, with no
    e-mail address in it (it is kept and published); ``smtp_code`` and ``enhanced_status``
    (RFC 3463, e.g. ``5.1.1``) are the server's codes, when it answered."""

    permanent: bool = False

    def __init__(
        self, reason: str, *, smtp_code: int | None = None, enhanced_status: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.smtp_code = smtp_code
        self.enhanced_status = enhanced_status


class TemporaryDeliveryError(DeliveryError):
    """Try again later: a 4xx answer, a refused or broken connection, a timeout."""


class PermanentDeliveryError(DeliveryError):
    """Do not try again: a 5xx answer (no such mailbox, policy refusal, ...)."""

    permanent = True


@dataclass(frozen=True)
class OutgoingMail:
    """One message as the SMTP server gets it: the envelope and the message's bytes."""

    mail_from: str
    rcpt_to: str
    data: bytes


@dataclass(frozen=True)
class MailContent:
    """What a delivery holds to become an e-mail."""

    notification_id: UUID
    recipient_email: str
    recipient_name: str | None
    subject: str
    body_text: str
    body_html: str
    ics: bytes | None
    calendar_method: str | None


@dataclass(frozen=True)
class DueDelivery(MailContent):
    """A queued delivery claimed for sending: its mail, and what its outcome's event says."""

    attempts: int
    """Attempts made before this one."""
    kind: str
    person_id: str | None
    recipient_sealed: str | None
    municipality_code: str | None
    meeting_id: str | None
    registration_id: str | None


@dataclass(frozen=True)
class Sent:
    notification_id: UUID
    attempts: int
    message_id: str


@dataclass(frozen=True)
class Retry:
    notification_id: UUID
    attempts: int
    error: str
    next_attempt_at: datetime


@dataclass(frozen=True)
class Failed:
    notification_id: UUID
    attempts: int
    error: str
    permanent: bool
    smtp_code: int | None = None
    enhanced_status: str | None = None


class DeliveryBatch(Protocol):
    """One batch of deliveries in one transaction: claimed, then its outcomes recorded."""

    async def claim(self, now: datetime, limit: int) -> list[DueDelivery]:
        """Lock up to ``limit`` queued deliveries due at ``now`` (others skip them)."""
        ...

    async def record(
        self,
        sent: Sequence[tuple[DueDelivery, Sent]],
        retries: Sequence[Retry],
        failures: Sequence[tuple[DueDelivery, Failed]],
        now: datetime,
    ) -> None:
        """Mark the deliveries, with their ``NotificationSent`` / ``NotificationFailed``
        events and the feed, a few statements for the whole batch."""
        ...


class Deliveries(Protocol):
    """The ``deliveries`` outbox."""

    def batch(self) -> AbstractAsyncContextManager[DeliveryBatch]:
        """One transaction: it commits when the block ends."""
        ...


class MailComposer(Protocol):
    """How a delivery becomes an e-mail on the wire."""

    def message_id(self, notification_id: UUID) -> str:
        """The Message-ID of a notification (the same on a resend)."""
        ...

    def compose(self, delivery: DueDelivery, now: datetime) -> OutgoingMail:
        """The envelope and the bytes of the delivery's message."""
        ...


class Mailer(Protocol):
    async def send(self, mail: OutgoingMail) -> None:
        """Hand the message to the mail server; raise a :class:`DeliveryError` if refused."""
        ...

    async def close(self) -> None:
        """Let go of whatever the mailer keeps open (connections); it may be used again."""
        ...


# --- the view, the deliveries and the feed, inside one transaction ------------------------


@dataclass(frozen=True)
class NewDelivery:
    """A message to queue (a ``deliveries`` row)."""

    notification_id: UUID
    dedupe_key: str
    kind: str
    recipient_email: str
    recipient_name: str | None
    municipality_code: str | None
    meeting_id: str | None
    registration_id: str | None
    source_event_id: str | None
    subject: str
    body_text: str
    body_html: str
    ics: bytes | None
    calendar_method: str | None
    person_id: str | None = None
    recipient_sealed: str | None = None


@dataclass(frozen=True)
class FeedEntry:
    """A queued notification as the feed shows it (the recipient's address in clear)."""

    notification_id: UUID
    kind: str
    recipient_email: str | None
    recipient_person_id: str | None
    municipality_code: str | None
    meeting_id: str | None
    registration_id: str | None
    subject: str
    queued_at: datetime

    @classmethod
    def of_queued(cls, data: dict[str, Any], recipient_email: str | None) -> FeedEntry:
        """The entry of a ``NotificationQueued`` event's data, with the opened address."""
        return cls(
            notification_id=UUID(data["notification_id"]),
            kind=data["kind"],
            recipient_email=recipient_email,
            recipient_person_id=data["recipient_person_id"],
            municipality_code=data.get("municipality_code"),
            meeting_id=data.get("meeting_id"),
            registration_id=data.get("registration_id"),
            subject=data["subject"],
            queued_at=datetime.fromisoformat(data["occurred_at"]),
        )


@dataclass(frozen=True)
class ReminderChange:
    """Set a meeting's reminder (``due_at``), or drop it (``due_at`` None)."""

    meeting_id: str
    starts_at: datetime | None = None
    due_at: datetime | None = None


class NotificationStore(Protocol):
    """The service's database as the use cases see it, inside the caller's transaction.

    Every method works on many rows at once, so a batch of events costs a handful of
    statements, not a handful per event.
    """

    async def meetings(
        self, meeting_ids: Collection[str], *, lock: bool = False
    ) -> dict[str, Meeting]:
        """The known meetings among ``meeting_ids``; ``lock``: until the transaction ends."""
        ...

    async def registrations(
        self, registration_ids: Collection[str], *, of_meetings: Collection[str] = ()
    ) -> list[Registration]:
        """The registrations with these ids, and every registration of ``of_meetings``."""
        ...

    async def network_names(self, slugs: Collection[str]) -> dict[str, str]: ...

    async def save_meetings(self, meetings: Sequence[Meeting]) -> None: ...

    async def save_registrations(self, registrations: Sequence[Registration]) -> None: ...

    async def change_reminders(self, changes: Sequence[ReminderChange]) -> None:
        """Apply the changes in order (a meeting that moved gets a fresh, unfired one)."""
        ...

    async def claim_due_reminder(self, now: datetime) -> tuple[str, datetime] | None:
        """Lock one due, unfired reminder (others skip it): (meeting id, the start it is
        for); None when none is due."""
        ...

    async def mark_reminder_fired(self, meeting_id: str, now: datetime) -> None: ...

    async def queue(self, deliveries: Sequence[NewDelivery], now: datetime) -> set[UUID]:
        """Insert the deliveries; the ids of those inserted (a known dedupe key: skipped)."""
        ...

    async def append(self, appends: Sequence[Append]) -> None:
        """Append to the event store (and its outbox), all streams at once."""
        ...

    async def add_to_feed(self, entries: Sequence[FeedEntry]) -> None: ...

    async def save_network(self, slug: str, name: str) -> None: ...

    async def scrub_person(self, person_id: str) -> None:
        """Forget an erased person in the view, the deliveries and the feed."""
        ...


class SeatCounts(Protocol):
    """The seats of meetings, beside the view of registrations (in the caller's transaction):
    what an invitation needs to say how many seats are left."""

    async def save_seats(self, changes: Sequence[tuple[str, int]]) -> None:
        """(meeting id, seats) in the order they happened; a later one wins."""
        ...

    async def seats_left(self, meeting_ids: Collection[str]) -> dict[str, int]:
        """Free seats of the meetings whose seats are known."""
        ...


class NotificationStores(Protocol):
    """Where a use case that runs on its own (reminders) gets a store."""

    def transaction(self) -> AbstractAsyncContextManager[NotificationStore]:
        """A store in a transaction of its own: it commits when the block ends."""
        ...


class KeyVault(Protocol):
    """What the use cases need of the key vault (:class:`services.kernel.privacy.Vault`)."""

    async def open_many(self, items: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """Open (person id, sealed) pairs; None for an erased person; ``SealError`` if a
        text does not open."""
        ...

    async def keys(self, person_ids: Iterable[str]) -> dict[str, bytes | None]: ...

    async def persons_for(self, emails: Sequence[str]) -> list[PersonKey]: ...

    def forget(self, person_id: str) -> None: ...
