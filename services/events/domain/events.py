"""Events of the meeting aggregate: what happened (past tense).

They mirror the wire contracts (``contracts/meetings.py``) field by field; the adapters
translate between the two, so the domain never imports the contracts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.events.domain.model import (
    AgendaItem,
    Basis,
    CancelledBy,
    MeetingDetails,
    Participant,
)


@dataclass(frozen=True, kw_only=True)
class Event:
    meeting_id: str
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class MeetingScheduled(Event, MeetingDetails):
    """A meeting was scheduled with its :class:`MeetingDetails`."""


@dataclass(frozen=True, kw_only=True)
class MeetingProgramPublished(Event):
    items: tuple[AgendaItem, ...]


@dataclass(frozen=True, kw_only=True)
class MeetingRescheduled(Event):
    starts_at: datetime
    ends_at: datetime
    registration_deadline: datetime
    venue_name: str
    venue_address: str


@dataclass(frozen=True, kw_only=True)
class MeetingSeatsChanged(Event):
    seats: int


@dataclass(frozen=True, kw_only=True)
class MeetingOfferChanged(Event):
    next_year_members_free: bool


@dataclass(frozen=True, kw_only=True)
class MeetingCancelled(Event):
    reason: str


@dataclass(frozen=True, kw_only=True)
class RegistrationEvent(Event):
    registration_id: str
    participant: Participant


@dataclass(frozen=True, kw_only=True)
class RegistrationConfirmed(RegistrationEvent):
    basis: Basis
    price_dkk: int


@dataclass(frozen=True, kw_only=True)
class RegistrationWaitlisted(RegistrationEvent):
    basis: Basis
    price_dkk: int
    position: int


@dataclass(frozen=True, kw_only=True)
class RegistrationPromoted(RegistrationEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class RegistrationCancelled(RegistrationEvent):
    cancelled_by: CancelledBy
    had_seat: bool


@dataclass(frozen=True, kw_only=True)
class AttendanceRecorded(Event):
    registration_id: str
    attended: bool
