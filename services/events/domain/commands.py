"""Commands to the meeting aggregate: what someone asks for (imperative)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.events.domain.model import (
    AgendaItem,
    CancelledBy,
    MeetingDetails,
    MembershipStanding,
    Participant,
)


@dataclass(frozen=True, kw_only=True)
class Command:
    meeting_id: str
    at: datetime  # when it is asked, on the service's clock


@dataclass(frozen=True, kw_only=True)
class ScheduleMeeting(Command, MeetingDetails):
    """Schedule a meeting with its :class:`MeetingDetails`."""


@dataclass(frozen=True, kw_only=True)
class PublishProgram(Command):
    items: tuple[AgendaItem, ...]


@dataclass(frozen=True, kw_only=True)
class RescheduleMeeting(Command):
    starts_at: datetime
    ends_at: datetime
    registration_deadline: datetime
    venue_name: str | None = None
    venue_address: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChangeSeats(Command):
    seats: int


@dataclass(frozen=True, kw_only=True)
class ChangeOffer(Command):
    next_year_members_free: bool


@dataclass(frozen=True, kw_only=True)
class CancelMeeting(Command):
    reason: str


@dataclass(frozen=True, kw_only=True)
class Register(Command):
    registration_id: str
    participant: Participant
    standing: MembershipStanding


@dataclass(frozen=True, kw_only=True)
class CancelRegistration(Command):
    registration_id: str
    cancelled_by: CancelledBy = "participant"


@dataclass(frozen=True, kw_only=True)
class RecordAttendance(Command):
    registration_id: str
    attended: bool
