"""The source events, as the domain sees them (translated from the wire at the edge)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.notifications.domain.model import AgendaItem, Meeting, Person


@dataclass(frozen=True)
class MeetingScheduled:
    meeting: Meeting


@dataclass(frozen=True)
class MeetingRescheduled:
    meeting_id: str
    starts_at: datetime
    ends_at: datetime
    venue_name: str
    venue_address: str


@dataclass(frozen=True)
class MeetingProgramChanged:
    meeting_id: str
    program: tuple[AgendaItem, ...]


@dataclass(frozen=True)
class MeetingCancelled:
    meeting_id: str
    reason: str


@dataclass(frozen=True)
class _RegistrationEvent:
    meeting_id: str
    registration_id: str
    participant: Person
    municipality_code: str


Basis = Literal["member", "next_year_offer", "guest"]
"""Why the participant may attend: a member of the meeting's year, the offer to members of
next year (free), or a guest at the meeting's price."""


@dataclass(frozen=True)
class RegistrationConfirmed(_RegistrationEvent):
    basis: Basis
    price_dkk: int


@dataclass(frozen=True)
class RegistrationWaitlisted(_RegistrationEvent):
    position: int
    basis: Basis
    price_dkk: int


@dataclass(frozen=True)
class RegistrationPromoted(_RegistrationEvent):
    pass


@dataclass(frozen=True)
class RegistrationCancelled(_RegistrationEvent):
    cancelled_by: Literal["participant", "municipality", "operator"]
    had_seat: bool


@dataclass(frozen=True)
class MembershipStarted:
    """A municipality joined a network for a year, or renewed into a new year."""

    membership_id: str
    network_slug: str
    network_name: str | None
    year: int
    municipality_code: str
    municipality_name: str
    contact: Person
    renewed: bool


RegistrationEvent = (
    RegistrationConfirmed | RegistrationWaitlisted | RegistrationPromoted | RegistrationCancelled
)
"""An event about one registration (its own registration is all it needs of the view)."""

MeetingEvent = (
    MeetingScheduled
    | MeetingRescheduled
    | MeetingProgramChanged
    | MeetingCancelled
    | RegistrationConfirmed
    | RegistrationWaitlisted
    | RegistrationPromoted
    | RegistrationCancelled
)
