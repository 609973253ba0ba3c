"""decide(state, command) -> events; evolve(state, event) -> state.

Seat rules (DOMAIN.md and the issue):
- Seats go first come, first served; a full meeting puts a registration on the waiting list.
- A released seat (cancellation) or an added one goes to the first on the waiting list whose
  municipality is under the per-municipality cap, in the same decision.
- The per-municipality cap counts a municipality's active registrations, seats and waiting
  list together (our rule): over the cap a registration is refused (409), so no municipality
  can fill the waiting list ahead of the others.
- Price and basis: a member of the meeting's year attends as part of the membership;
  on a meeting with the offer, a member of next year attends free; else the guest price if
  the meeting has one; else refused, with how to join. The offer gives no priority.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.events.domain import commands as c
from services.events.domain import errors
from services.events.domain import events as e
from services.events.domain.model import Basis, Meeting, Registration, details_of


def decide(state: Meeting | None, command: c.Command) -> list[e.Event]:
    """The events that ``command`` causes on ``state``; raises a MeetingError to refuse."""
    if isinstance(command, c.ScheduleMeeting):
        return _schedule(state, command)
    meeting = _existing(state, command.meeting_id)
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"no handler for {type(command).__name__}")
    return handler(meeting, command)


def evolve(state: Meeting | None, event: e.Event) -> Meeting:
    """Apply ``event`` to ``state`` (mutated in place) and return it."""
    if isinstance(event, e.MeetingScheduled):
        return Meeting(meeting_id=event.meeting_id, **details_of(event))
    if state is None:
        raise ValueError(f"{type(event).__name__} before MeetingScheduled")
    m = state
    match event:
        case e.MeetingProgramPublished():
            m.program = event.items
        case e.MeetingRescheduled():
            m.starts_at, m.ends_at = event.starts_at, event.ends_at
            m.registration_deadline = event.registration_deadline
            m.venue_name, m.venue_address = event.venue_name, event.venue_address
        case e.MeetingSeatsChanged():
            m.seats = event.seats
        case e.MeetingOfferChanged():
            m.next_year_members_free = event.next_year_members_free
        case e.MeetingCancelled():
            m.cancelled, m.cancel_reason = True, event.reason
        case e.RegistrationConfirmed() | e.RegistrationWaitlisted():
            confirmed = isinstance(event, e.RegistrationConfirmed)
            reg = Registration(
                registration_id=event.registration_id,
                participant=event.participant,
                basis=event.basis,
                price_dkk=event.price_dkk,
                status="confirmed" if confirmed else "waitlisted",
            )
            m.registrations[reg.registration_id] = reg
            code = reg.participant.municipality_code
            m.active_by_person[reg.participant.person_id] = reg.registration_id
            m.active_per_municipality[code] = m.active_per_municipality.get(code, 0) + 1
            if confirmed:
                _take_seat(m, reg)
            else:
                m.waitlist.append(reg.registration_id)
        case e.RegistrationPromoted():
            reg = m.registrations[event.registration_id]
            m.waitlist.remove(reg.registration_id)
            reg.status = "confirmed"
            _take_seat(m, reg)
        case e.RegistrationCancelled():
            reg = m.registrations[event.registration_id]
            code = reg.participant.municipality_code
            if reg.status == "confirmed":
                m.seats_taken -= 1
                m.seats_per_municipality[code] -= 1
                if reg.basis == "next_year_offer":
                    m.offer_seats_taken -= 1
            elif reg.status == "waitlisted":
                m.waitlist.remove(reg.registration_id)
            reg.status = "cancelled"
            m.active_by_person.pop(reg.participant.person_id, None)
            m.active_per_municipality[code] -= 1
        case e.AttendanceRecorded():
            m.registrations[event.registration_id].attended = event.attended
        case _:
            raise TypeError(f"unknown event {type(event).__name__}")
    return m


def _take_seat(m: Meeting, reg: Registration) -> None:
    code = reg.participant.municipality_code
    m.seats_taken += 1
    m.seats_per_municipality[code] = m.seats_per_municipality.get(code, 0) + 1
    if reg.basis == "next_year_offer":
        m.offer_seats_taken += 1


def _existing(state: Meeting | None, meeting_id: str) -> Meeting:
    if state is None:
        raise errors.MeetingNotFoundError(meeting_id)
    return state


def _open(m: Meeting) -> None:
    if m.cancelled:
        raise errors.MeetingCancelledError()


def _check_times(starts_at: datetime, ends_at: datetime, deadline: datetime) -> None:
    for moment in (starts_at, ends_at, deadline):
        if moment.tzinfo is None:
            raise errors.InvalidMeetingError(
                "Tidspunkter skal have en tidszone.", "Times must carry a time zone."
            )
    if ends_at <= starts_at:
        raise errors.InvalidMeetingError(
            "Mødet skal slutte efter, det begynder.", "The meeting must end after it starts."
        )
    if deadline > starts_at:
        raise errors.InvalidMeetingError(
            "Tilmeldingsfristen skal ligge før mødets start.",
            "The registration deadline must be before the meeting starts.",
        )


def _check_seats(seats: int) -> None:
    if seats < 0:
        raise errors.InvalidMeetingError(
            "Antallet af pladser kan ikke være negativt.", "The number of seats cannot be negative."
        )


def _schedule(state: Meeting | None, cmd: c.ScheduleMeeting) -> list[e.Event]:
    if state is not None:
        raise errors.MeetingAlreadyExistsError(cmd.meeting_id)
    _check_times(cmd.starts_at, cmd.ends_at, cmd.registration_deadline)
    _check_seats(cmd.seats)
    if not cmd.title.strip():
        raise errors.InvalidMeetingError("Mødet skal have en titel.", "The meeting needs a title.")
    if cmd.per_municipality_cap is not None and cmd.per_municipality_cap < 1:
        raise errors.InvalidMeetingError(
            "Loftet pr. kommune skal være mindst 1.", "The per-municipality cap must be at least 1."
        )
    if cmd.guest_price_dkk is not None and cmd.guest_price_dkk < 0:
        raise errors.InvalidMeetingError(
            "Gæsteprisen kan ikke være negativ.", "The guest price cannot be negative."
        )
    return [e.MeetingScheduled(meeting_id=cmd.meeting_id, occurred_at=cmd.at, **details_of(cmd))]


def _publish_program(m: Meeting, cmd: c.PublishProgram) -> list[e.Event]:
    _open(m)
    items = tuple(sorted(cmd.items, key=lambda i: i.starts_at))
    return [e.MeetingProgramPublished(meeting_id=m.meeting_id, occurred_at=cmd.at, items=items)]


def _reschedule(m: Meeting, cmd: c.RescheduleMeeting) -> list[e.Event]:
    _open(m)
    _check_times(cmd.starts_at, cmd.ends_at, cmd.registration_deadline)
    return [
        e.MeetingRescheduled(
            meeting_id=m.meeting_id,
            occurred_at=cmd.at,
            starts_at=cmd.starts_at,
            ends_at=cmd.ends_at,
            registration_deadline=cmd.registration_deadline,
            venue_name=cmd.venue_name or m.venue_name,
            venue_address=cmd.venue_address or m.venue_address,
        )
    ]


def _change_seats(m: Meeting, cmd: c.ChangeSeats) -> list[e.Event]:
    _open(m)
    _check_seats(cmd.seats)
    if cmd.seats < m.seats_taken:
        raise errors.SeatsBelowTakenError(cmd.seats, m.seats_taken)
    if cmd.seats == m.seats:
        return []
    changed = e.MeetingSeatsChanged(meeting_id=m.meeting_id, occurred_at=cmd.at, seats=cmd.seats)
    return [changed, *_promotions(m, cmd.seats - m.seats_taken, cmd.at)]


def _change_offer(m: Meeting, cmd: c.ChangeOffer) -> list[e.Event]:
    _open(m)
    if cmd.next_year_members_free == m.next_year_members_free:
        return []
    return [
        e.MeetingOfferChanged(
            meeting_id=m.meeting_id,
            occurred_at=cmd.at,
            next_year_members_free=cmd.next_year_members_free,
        )
    ]


def _cancel_meeting(m: Meeting, cmd: c.CancelMeeting) -> list[e.Event]:
    _open(m)
    return [e.MeetingCancelled(meeting_id=m.meeting_id, occurred_at=cmd.at, reason=cmd.reason)]


def _basis(m: Meeting, cmd: c.Register) -> tuple[Basis, int]:
    if cmd.standing.member_of_year:
        return "member", 0
    if m.next_year_members_free and cmd.standing.member_of_next_year:
        return "next_year_offer", 0
    if m.guest_price_dkk is not None:
        return "guest", m.guest_price_dkk
    raise errors.NotAMemberError(
        m.network_slug, m.year, cmd.participant.municipality_code, m.next_year_members_free
    )


def _register(m: Meeting, cmd: c.Register) -> list[e.Event]:
    _open(m)
    if cmd.at > m.registration_deadline:
        raise errors.RegistrationClosedError(m.registration_deadline.isoformat())
    if cmd.registration_id in m.registrations:
        raise errors.DuplicateRegistrationError(cmd.registration_id)
    existing = m.active_by_person.get(cmd.participant.person_id)
    if existing is not None:
        raise errors.DuplicateRegistrationError(
            existing, m.registrations[existing].participant.municipality_code
        )
    code = cmd.participant.municipality_code
    cap = m.per_municipality_cap
    if cap is not None and m.active_per_municipality.get(code, 0) >= cap:
        raise errors.MunicipalityCapReachedError(code, cap)
    basis, price = _basis(m, cmd)
    registration: dict[str, Any] = {
        "meeting_id": m.meeting_id,
        "occurred_at": cmd.at,
        "registration_id": cmd.registration_id,
        "participant": cmd.participant,
        "basis": basis,
        "price_dkk": price,
    }
    if m.seats_taken < m.seats and not m.waitlist:
        return [e.RegistrationConfirmed(**registration)]
    return [e.RegistrationWaitlisted(**registration, position=len(m.waitlist) + 1)]


def _cancel_registration(m: Meeting, cmd: c.CancelRegistration) -> list[e.Event]:
    _open(m)
    reg = m.registrations.get(cmd.registration_id)
    if reg is None:
        raise errors.RegistrationNotFoundError(cmd.registration_id)
    if reg.status == "cancelled":
        raise errors.RegistrationAlreadyCancelledError(cmd.registration_id)
    if cmd.at >= m.starts_at:
        raise errors.MeetingAlreadyStartedError()
    had_seat = reg.status == "confirmed"
    cancelled = e.RegistrationCancelled(
        meeting_id=m.meeting_id,
        occurred_at=cmd.at,
        registration_id=reg.registration_id,
        participant=reg.participant,
        cancelled_by=cmd.cancelled_by,
        had_seat=had_seat,
    )
    if not had_seat:
        return [cancelled]
    freed = {reg.participant.municipality_code: -1}
    return [cancelled, *_promotions(m, m.seats - m.seats_taken + 1, cmd.at, freed)]


def _promotions(
    m: Meeting, free: int, at: datetime, seat_delta: dict[str, int] | None = None
) -> list[e.Event]:
    """Promote from the head of the waiting list into ``free`` seats, respecting the cap."""
    promoted: list[e.Event] = []
    seats_now = dict(m.seats_per_municipality)
    for code, delta in (seat_delta or {}).items():
        seats_now[code] = seats_now.get(code, 0) + delta
    cap = m.per_municipality_cap
    for rid in m.waitlist:
        if free <= 0:
            break
        reg = m.registrations[rid]
        code = reg.participant.municipality_code
        if cap is not None and seats_now.get(code, 0) >= cap:
            continue
        promoted.append(
            e.RegistrationPromoted(
                meeting_id=m.meeting_id,
                occurred_at=at,
                registration_id=rid,
                participant=reg.participant,
            )
        )
        seats_now[code] = seats_now.get(code, 0) + 1
        free -= 1
    return promoted


def _record_attendance(m: Meeting, cmd: c.RecordAttendance) -> list[e.Event]:
    _open(m)
    reg = m.registrations.get(cmd.registration_id)
    if reg is None:
        raise errors.RegistrationNotFoundError(cmd.registration_id)
    if cmd.at < m.starts_at:
        raise errors.MeetingNotHeldYetError()
    if reg.status != "confirmed":
        raise errors.NoSeatError(cmd.registration_id)
    return [
        e.AttendanceRecorded(
            meeting_id=m.meeting_id,
            occurred_at=cmd.at,
            registration_id=reg.registration_id,
            attended=cmd.attended,
        )
    ]


_HANDLERS: dict[type[c.Command], Callable[[Meeting, Any], list[e.Event]]] = {
    c.PublishProgram: _publish_program,
    c.RescheduleMeeting: _reschedule,
    c.ChangeSeats: _change_seats,
    c.ChangeOffer: _change_offer,
    c.CancelMeeting: _cancel_meeting,
    c.Register: _register,
    c.CancelRegistration: _cancel_registration,
    c.RecordAttendance: _record_attendance,
}
