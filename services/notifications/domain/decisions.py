"""Who is told what: pure decisions from a source event and the service's view.

Input: a domain event, the meeting as known before it, and the meeting's registrations as
known before it (for a registration event its own registration is enough, see
:func:`needs_every_registration`). Output: the notifications to send (intents), and the
view after the event (:func:`evolve_meeting`, :func:`evolve_registrations`). Nothing here
reads a clock or a database; the service layer supplies both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.notifications.domain.events import (
    MeetingCancelled,
    MeetingEvent,
    MeetingProgramChanged,
    MeetingRescheduled,
    MeetingScheduled,
    MembershipStarted,
    RegistrationConfirmed,
    RegistrationEvent,
    RegistrationPromoted,
    RegistrationWaitlisted,
)
from services.notifications.domain.model import (
    CalendarAction,
    CalendarMethod,
    Meeting,
    MeetingStatus,
    NotificationIntent,
    NotificationKind,
    Person,
    Registration,
    RegistrationStatus,
)


class UnknownMeetingError(Exception):
    """An event refers to a meeting this service has never seen scheduled."""


@dataclass(frozen=True)
class Policy:
    """The configurable part of the rules."""

    organiser: Person
    reminder_before: timedelta = timedelta(days=2)
    calendar_domain: str = "netvaerk.kl.dk"

    def calendar_uid(self, registration_id: str) -> str:
        """One calendar entry per registration, stable across updates and cancellation."""
        return f"{registration_id}@{self.calendar_domain}"


def decide(
    event: MeetingEvent,
    meeting: Meeting | None,
    registrations: Sequence[Registration],
    policy: Policy,
) -> list[NotificationIntent]:
    """The notifications a meeting or registration event calls for."""
    if isinstance(event, MeetingScheduled):
        return []
    if meeting is None:
        raise UnknownMeetingError(event.meeting_id)
    after = evolve_meeting(meeting, event)
    assert after is not None
    if meeting.status is MeetingStatus.CANCELLED:
        return []  # a cancelled meeting has said its last word
    by_id = {r.registration_id: r for r in registrations}
    active = [r for r in registrations if r.status is not RegistrationStatus.CANCELLED]

    if isinstance(event, MeetingRescheduled | MeetingProgramChanged):
        kind = (
            NotificationKind.MEETING_RESCHEDULED
            if isinstance(event, MeetingRescheduled)
            else NotificationKind.MEETING_PROGRAM_CHANGED
        )
        facts: dict[str, str | int | None] = {}
        if isinstance(event, MeetingRescheduled):
            facts = {
                "previous_starts_at": meeting.starts_at.isoformat(),
                "previous_location": meeting.location,
            }
        return [
            _to_participant(
                kind,
                reg,
                after,
                policy,
                calendar="REQUEST" if reg.status is RegistrationStatus.SEAT else None,
                facts=facts,
            )
            for reg in active
        ]
    if isinstance(event, MeetingCancelled):
        return [
            _to_participant(
                NotificationKind.MEETING_CANCELLED,
                reg,
                after,
                policy,
                calendar="CANCEL" if reg.status is RegistrationStatus.SEAT else None,
                facts={"reason": event.reason},
            )
            for reg in active
        ]

    known = by_id.get(event.registration_id)
    reg = evolve_registration(known, event)
    if isinstance(event, RegistrationConfirmed):
        return [
            _to_participant(
                NotificationKind.REGISTRATION_CONFIRMED,
                reg,
                after,
                policy,
                calendar="REQUEST",
                facts={"basis": event.basis, "price_dkk": event.price_dkk},
            )
        ]
    if isinstance(event, RegistrationWaitlisted):
        return [
            _to_participant(
                NotificationKind.REGISTRATION_WAITLISTED,
                reg,
                after,
                policy,
                facts={
                    "position": event.position,
                    "basis": event.basis,
                    "price_dkk": event.price_dkk,
                },
            )
        ]
    if isinstance(event, RegistrationPromoted):
        if known is not None and known.status is RegistrationStatus.SEAT:
            return []  # already has the seat: nothing new to tell
        return [
            _to_participant(
                NotificationKind.REGISTRATION_PROMOTED, reg, after, policy, calendar="REQUEST"
            ),
            _to_organiser(NotificationKind.ORGANISER_WAITLIST_MOVED, reg, after, policy, {}),
        ]
    # RegistrationCancelled
    if known is not None and known.status is RegistrationStatus.CANCELLED:
        return []  # already cancelled (e.g. with the meeting): told once is enough
    had_seat = event.had_seat or (known is not None and known.status is RegistrationStatus.SEAT)
    facts = {"cancelled_by": event.cancelled_by, "had_seat": "ja" if had_seat else "nej"}
    return [
        _to_participant(
            NotificationKind.REGISTRATION_CANCELLED,
            reg,
            after,
            policy,
            calendar="CANCEL" if had_seat else None,
            facts=facts,
        ),
        _to_organiser(NotificationKind.ORGANISER_REGISTRATION_CANCELLED, reg, after, policy, facts),
    ]


def meeting_of(event: MeetingEvent) -> str:
    """The id of the meeting an event is about."""
    return event.meeting.meeting_id if isinstance(event, MeetingScheduled) else event.meeting_id


def registration_of(event: MeetingEvent) -> str | None:
    """The id of the registration a registration event is about (None for others)."""
    return event.registration_id if isinstance(event, RegistrationEvent) else None


def needs_every_registration(event: MeetingEvent) -> bool:
    """Whether :func:`decide` needs every registration of the meeting (a meeting-wide
    change tells everyone); a registration event needs its own registration only, so the
    work per event does not grow with the size of the meeting."""
    return isinstance(event, MeetingRescheduled | MeetingProgramChanged | MeetingCancelled)


def decide_welcome(event: MembershipStarted) -> list[NotificationIntent]:
    """A joined or renewed membership: welcome its contact person."""
    return [
        NotificationIntent(
            kind=NotificationKind.MEMBERSHIP_WELCOME,
            recipient=event.contact,
            municipality_code=event.municipality_code,
            facts={
                "network_name": event.network_name or event.network_slug.upper(),
                "year": event.year,
                "municipality_name": event.municipality_name,
                "renewed": "ja" if event.renewed else "nej",
            },
        )
    ]


def reminder_due_at(meeting: Meeting, policy: Policy) -> datetime | None:
    """When the meeting's reminder is due; None when no reminder is to be sent."""
    if meeting.status is MeetingStatus.CANCELLED:
        return None
    return meeting.starts_at - policy.reminder_before


def decide_reminders(
    meeting: Meeting, registrations: Sequence[Registration], now: datetime, policy: Policy
) -> list[NotificationIntent]:
    """Reminders for everyone with a seat at ``now``; none once the meeting has begun."""
    if meeting.status is MeetingStatus.CANCELLED or now >= meeting.starts_at:
        return []
    return [
        _to_participant(NotificationKind.MEETING_REMINDER, reg, meeting, policy)
        for reg in registrations
        if reg.status is RegistrationStatus.SEAT
    ]


def evolve_meeting(meeting: Meeting | None, event: MeetingEvent) -> Meeting | None:
    """The meeting after the event."""
    if isinstance(event, MeetingScheduled):
        return meeting if meeting is not None else event.meeting
    if meeting is None:
        return None
    if isinstance(event, MeetingRescheduled):
        return replace(
            meeting,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            venue_name=event.venue_name,
            venue_address=event.venue_address,
        )
    if isinstance(event, MeetingProgramChanged):
        return replace(meeting, program=event.program)
    if isinstance(event, MeetingCancelled):
        return replace(meeting, status=MeetingStatus.CANCELLED)
    return meeting


def evolve_registration(known: Registration | None, event: RegistrationEvent) -> Registration:
    """One registration after a registration event."""
    if isinstance(event, RegistrationConfirmed | RegistrationPromoted):
        status, position = RegistrationStatus.SEAT, None
    elif isinstance(event, RegistrationWaitlisted):
        status, position = RegistrationStatus.WAITING, event.position
    else:
        status, position = RegistrationStatus.CANCELLED, None
    return Registration(
        registration_id=event.registration_id,
        meeting_id=event.meeting_id,
        participant=event.participant,
        municipality_code=event.municipality_code,
        status=status,
        position=position,
        calendar_sequence=known.calendar_sequence if known else None,
    )


def evolve_registrations(
    registrations: Sequence[Registration],
    event: MeetingEvent,
    intents: Sequence[NotificationIntent],
) -> list[Registration]:
    """The registrations the event (and the calendar objects sent for it) changed."""
    by_id = {r.registration_id: r for r in registrations}
    changed: dict[str, Registration] = {}
    if isinstance(event, RegistrationEvent):
        changed[event.registration_id] = evolve_registration(
            by_id.get(event.registration_id), event
        )
    elif isinstance(event, MeetingCancelled):
        for reg in registrations:
            if reg.status is not RegistrationStatus.CANCELLED:
                changed[reg.registration_id] = replace(
                    reg, status=RegistrationStatus.CANCELLED, position=None
                )
    for intent in intents:
        if intent.calendar is None or intent.registration_id is None:
            continue
        current = changed.get(intent.registration_id) or by_id.get(intent.registration_id)
        if current is not None:
            changed[intent.registration_id] = replace(
                current, calendar_sequence=intent.calendar.sequence
            )
    return list(changed.values())


def _to_participant(
    kind: NotificationKind,
    reg: Registration,
    meeting: Meeting,
    policy: Policy,
    *,
    calendar: CalendarMethod | None = None,
    facts: dict[str, str | int | None] | None = None,
) -> NotificationIntent:
    return NotificationIntent(
        kind=kind,
        recipient=reg.participant,
        municipality_code=reg.municipality_code,
        meeting=meeting,
        registration_id=reg.registration_id,
        calendar=(
            CalendarAction(calendar, policy.calendar_uid(reg.registration_id), reg.next_sequence)
            if calendar
            else None
        ),
        facts=dict(facts or {}),
    )


def _to_organiser(
    kind: NotificationKind,
    reg: Registration,
    meeting: Meeting,
    policy: Policy,
    facts: dict[str, str | int | None],
) -> NotificationIntent:
    return NotificationIntent(
        kind=kind,
        recipient=policy.organiser,
        municipality_code=None,
        meeting=meeting,
        registration_id=reg.registration_id,
        facts={
            **facts,
            "participant_name": reg.participant.name,
            "participant_email": reg.participant.email,
            "participant_municipality": reg.municipality_code,
        },
    )
