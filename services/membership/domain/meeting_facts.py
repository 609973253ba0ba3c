"""What the membership service knows of meetings: counts from the meetings topic, no people.

The outreach and the statistics need, per meeting, its network, year, date, seats and when
the offer ("next year's members attend free while seats last") was open; per registration,
its municipality, basis, status and attendance. Nothing personal: no person id, no name.

Each consumed meeting event is kept as one :class:`MeetingFact`, in the order of the
meeting's stream; :func:`fold` replays them into :class:`MeetingState`. A fact applied twice
(a redelivery, a rebuild racing the subscriber) is kept once, by its event id, so the fold
of any delivery order of the same facts, sorted by their stream position, is the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum


class FactKind(StrEnum):
    SCHEDULED = "scheduled"
    RESCHEDULED = "rescheduled"
    SEATS_CHANGED = "seats_changed"
    OFFER_CHANGED = "offer_changed"
    CANCELLED = "cancelled"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    PROMOTED = "promoted"
    REGISTRATION_CANCELLED = "registration_cancelled"
    ATTENDANCE = "attendance"


@dataclass(frozen=True)
class MeetingFact:
    """One meeting event, reduced to what the outreach counts. ``kind`` says which of the
    optional fields are set (a registration event: registration, municipality, basis)."""

    meeting_id: str
    kind: FactKind
    occurred_at: datetime
    network_slug: str | None = None
    year: int | None = None
    title: str | None = None
    starts_at: datetime | None = None
    seats: int | None = None
    offer: bool | None = None
    registration_id: str | None = None
    municipality_code: str | None = None
    basis: str | None = None
    attended: bool | None = None


class RegistrationStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


@dataclass
class RegistrationState:
    """A registration as its facts tell it (changed in place by :func:`fold`)."""

    registration_id: str
    municipality_code: str
    basis: str | None
    status: RegistrationStatus
    registered_at: datetime
    promoted: bool = False
    attended: bool | None = None


@dataclass
class MeetingState:
    """A meeting as its facts tell it (built by :func:`fold`, which changes it in place)."""

    meeting_id: str
    network_slug: str
    year: int
    title: str
    starts_at: datetime
    seats: int
    offer: bool
    offer_since: datetime | None
    """When the offer was first put on the meeting (None: it never had it)."""
    cancelled: bool = False
    registrations: dict[str, RegistrationState] = field(default_factory=dict)

    def offer_open_at(self, moment: datetime) -> bool:
        """Whether the offer was open at ``moment``: on, and the meeting not begun."""
        return (
            self.offer_since is not None
            and not self.cancelled
            and self.offer_since <= moment < self.starts_at
        )


def fold(facts: Iterable[MeetingFact]) -> dict[str, MeetingState]:
    """The meetings the facts tell of, each fact applied in the order given (a meeting's
    facts must come in the order of its stream). Facts before a meeting's scheduling are
    ignored (a reader tolerates them)."""
    meetings: dict[str, MeetingState] = {}
    for fact in facts:
        current = meetings.get(fact.meeting_id)
        after = apply(current, fact)
        if after is not None:
            meetings[fact.meeting_id] = after
    return meetings


def apply(meeting: MeetingState | None, fact: MeetingFact) -> MeetingState | None:
    """One fact on one meeting."""
    if fact.kind is FactKind.SCHEDULED:
        assert fact.network_slug is not None
        assert fact.year is not None
        assert fact.title is not None
        assert fact.starts_at is not None
        assert fact.seats is not None
        if meeting is not None:
            return meeting
        return MeetingState(
            meeting_id=fact.meeting_id,
            network_slug=fact.network_slug,
            year=fact.year,
            title=fact.title,
            starts_at=fact.starts_at,
            seats=fact.seats,
            offer=bool(fact.offer),
            offer_since=fact.occurred_at if fact.offer else None,
        )
    if meeting is None:
        return None
    if fact.kind is FactKind.RESCHEDULED and fact.starts_at is not None:
        return replace(meeting, starts_at=fact.starts_at)
    if fact.kind is FactKind.SEATS_CHANGED and fact.seats is not None:
        return replace(meeting, seats=fact.seats)
    if fact.kind is FactKind.OFFER_CHANGED:
        since = meeting.offer_since or (fact.occurred_at if fact.offer else None)
        return replace(meeting, offer=bool(fact.offer), offer_since=since)
    if fact.kind is FactKind.CANCELLED:
        return replace(meeting, cancelled=True)
    if fact.registration_id is None:
        return meeting
    changed = _registration(meeting.registrations.get(fact.registration_id), fact)
    if changed is not None:
        # In place: a meeting may have thousands of registrations (a copy per fact is n²).
        meeting.registrations[fact.registration_id] = changed
    return meeting


def _registration(known: RegistrationState | None, fact: MeetingFact) -> RegistrationState | None:
    if fact.kind in (FactKind.CONFIRMED, FactKind.WAITLISTED):
        if known is not None or fact.municipality_code is None:
            return known
        return RegistrationState(
            registration_id=fact.registration_id or "",
            municipality_code=fact.municipality_code,
            basis=fact.basis,
            status=(
                RegistrationStatus.CONFIRMED
                if fact.kind is FactKind.CONFIRMED
                else RegistrationStatus.WAITLISTED
            ),
            registered_at=fact.occurred_at,
        )
    if known is None:
        return None
    # In place, as the meeting's registrations: a copy per fact would cost more than the fold.
    if fact.kind is FactKind.PROMOTED:
        known.status, known.promoted = RegistrationStatus.CONFIRMED, True
    elif fact.kind is FactKind.REGISTRATION_CANCELLED:
        known.status = RegistrationStatus.CANCELLED
    elif fact.kind is FactKind.ATTENDANCE:
        known.attended = fact.attended
    return known
