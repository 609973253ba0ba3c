"""The service's own view of meetings and registrations, and what it decides to send."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class RegistrationStatus(StrEnum):
    SEAT = "seat"
    WAITING = "waiting"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class AgendaItem:
    starts_at: datetime
    title: str
    speaker: str | None = None


@dataclass(frozen=True)
class Meeting:
    """A meeting as this service knows it."""

    meeting_id: str
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    venue_name: str
    venue_address: str
    status: MeetingStatus = MeetingStatus.SCHEDULED
    program: tuple[AgendaItem, ...] = ()

    @property
    def location(self) -> str:
        """Venue name and address, as a calendar's LOCATION."""
        return f"{self.venue_name}, {self.venue_address}"


@dataclass(frozen=True)
class Person:
    """A recipient. ``person_id``: the person's id in the key vault, when known (a
    participant's comes with the event; others get one when a notification is queued)."""

    name: str
    email: str
    person_id: str | None = None


@dataclass(frozen=True)
class Registration:
    """A registration for a meeting as this service knows it.

    ``calendar_sequence`` is the SEQUENCE of the last calendar object sent for it (None:
    none sent yet), so an update or cancellation carries a higher one and replaces it.
    """

    registration_id: str
    meeting_id: str
    participant: Person
    municipality_code: str
    status: RegistrationStatus
    position: int | None = None
    calendar_sequence: int | None = None

    @property
    def next_sequence(self) -> int:
        return 0 if self.calendar_sequence is None else self.calendar_sequence + 1


class NotificationKind(StrEnum):
    REGISTRATION_CONFIRMED = "registration_confirmed"
    REGISTRATION_WAITLISTED = "registration_waitlisted"
    REGISTRATION_PROMOTED = "registration_promoted"
    REGISTRATION_CANCELLED = "registration_cancelled"
    MEETING_RESCHEDULED = "meeting_rescheduled"
    MEETING_PROGRAM_CHANGED = "meeting_program_changed"
    MEETING_CANCELLED = "meeting_cancelled"
    MEETING_REMINDER = "meeting_reminder"
    MEMBERSHIP_WELCOME = "membership_welcome"
    MEMBERSHIP_INVITATION = "membership_invitation"
    ORGANISER_REGISTRATION_CANCELLED = "organiser_registration_cancelled"
    ORGANISER_WAITLIST_MOVED = "organiser_waitlist_moved"


CalendarMethod = Literal["REQUEST", "CANCEL"]


@dataclass(frozen=True)
class CalendarAction:
    """A calendar object to attach: an invitation (REQUEST) or its cancellation (CANCEL)."""

    method: CalendarMethod
    uid: str
    sequence: int


@dataclass(frozen=True)
class NotificationIntent:
    """One message to one recipient, decided from one event (or from the reminder schedule).

    ``facts`` holds what the text needs beyond the meeting: a waiting-list position, a
    reason, the participant an organiser message is about, the membership's year.
    """

    kind: NotificationKind
    recipient: Person
    municipality_code: str | None
    meeting: Meeting | None = None
    registration_id: str | None = None
    calendar: CalendarAction | None = None
    facts: dict[str, str | int | None] = field(default_factory=dict)


def notification_stream(notification_id: UUID) -> str:
    """The event stream of one notification (queued, then sent or failed)."""
    return f"notification-{notification_id}"
