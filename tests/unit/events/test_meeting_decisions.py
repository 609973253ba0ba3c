"""The meeting aggregate's rules, one story each (pure domain, no I/O)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.events.adapters.translation import (
    from_contract,
    meeting_from_json,
    meeting_to_json,
    to_contract,
)
from services.events.domain import commands as c
from services.events.domain import errors
from services.events.domain import events as e
from services.events.domain.decisions import decide
from services.events.domain.model import AgendaItem
from tests.unit.events.builders import (
    MEETING,
    NEXT_YEAR,
    NONE,
    NOW,
    STARTS,
    cancel,
    register,
    run,
    schedule,
)


def test_a_member_of_the_year_gets_a_seat_as_part_of_the_membership() -> None:
    _, [event] = run(None, schedule(), register(1))
    assert isinstance(event, e.RegistrationConfirmed)
    assert (event.basis, event.price_dkk) == ("member", 0)


def test_a_full_meeting_puts_the_next_registration_on_the_waiting_list_in_order() -> None:
    state, [event] = run(None, schedule(seats=1), register(1), register(2), register(3))
    assert isinstance(event, e.RegistrationWaitlisted)
    assert event.position == 2
    assert state.waitlist == ["reg-2", "reg-3"]
    assert state.seats_taken == 1


def test_a_released_seat_goes_to_the_first_on_the_waiting_list_in_the_same_decision() -> None:
    state, events = run(None, schedule(seats=1), register(1), register(2), register(3), cancel(1))
    assert [type(ev) for ev in events] == [e.RegistrationCancelled, e.RegistrationPromoted]
    assert isinstance(events[1], e.RegistrationPromoted)
    assert events[1].registration_id == "reg-2"
    assert state.waitlist == ["reg-3"]
    assert state.seats_taken == 1


def test_cancelling_a_waiting_registration_releases_no_seat_and_promotes_no_one() -> None:
    state, events = run(None, schedule(seats=1), register(1), register(2), register(3), cancel(2))
    assert len(events) == 1
    assert isinstance(events[0], e.RegistrationCancelled)
    assert not events[0].had_seat
    assert state.waitlist == ["reg-3"]


def test_added_seats_go_to_the_waiting_list_in_order() -> None:
    raise_seats = c.ChangeSeats(meeting_id=MEETING, at=NOW, seats=3)
    _, events = run(None, schedule(seats=1), *[register(n) for n in range(1, 5)], raise_seats)
    assert isinstance(events[0], e.MeetingSeatsChanged)
    promoted = [ev.registration_id for ev in events if isinstance(ev, e.RegistrationPromoted)]
    assert promoted == ["reg-2", "reg-3"]


def test_next_years_member_attends_free_on_a_meeting_with_the_offer() -> None:
    _, [event] = run(None, schedule(offer=True), register(1, standing=NEXT_YEAR))
    assert isinstance(event, e.RegistrationConfirmed)
    assert (event.basis, event.price_dkk) == ("next_year_offer", 0)


def test_the_offer_gives_no_priority_next_years_members_queue_like_anyone() -> None:
    _, [event] = run(
        None, schedule(seats=1, offer=True), register(1), register(2, standing=NEXT_YEAR)
    )
    assert isinstance(event, e.RegistrationWaitlisted)
    assert event.basis == "next_year_offer"


def test_a_non_member_pays_the_guest_price_where_the_meeting_has_one() -> None:
    _, [event] = run(None, schedule(guest_price=950), register(1, standing=NONE))
    assert isinstance(event, e.RegistrationConfirmed)
    assert (event.basis, event.price_dkk) == ("guest", 950)


def test_a_non_member_is_refused_with_how_to_join_on_a_members_only_meeting() -> None:
    state, _ = run(None, schedule(offer=True))
    with pytest.raises(errors.NotAMemberError) as refused:
        decide(state, register(1, code="461", standing=NONE))
    assert refused.value.network_slug == "knub"
    assert "Meld kommunen ind" in refused.value.detail_da
    assert "2022" in refused.value.detail_da


def test_next_years_membership_does_not_admit_without_the_offer() -> None:
    state, _ = run(None, schedule(offer=False))
    with pytest.raises(errors.NotAMemberError):
        decide(state, register(1, standing=NEXT_YEAR))


def test_registration_after_the_deadline_is_refused() -> None:
    state, _ = run(None, schedule())
    late = state.registration_deadline + timedelta(minutes=1)
    with pytest.raises(errors.RegistrationClosedError):
        decide(state, register(1, at=late))


def test_the_same_person_cannot_register_twice_whatever_the_case_of_the_email() -> None:
    state, _ = run(None, schedule(seats=5), register(1, email="anne@aarhus.dk"))
    with pytest.raises(errors.DuplicateRegistrationError):
        decide(state, register(2, email="Anne@Aarhus.DK"))


def test_after_cancelling_the_same_person_may_register_again() -> None:
    _state, [event] = run(
        None, schedule(seats=5), register(1, email="a@b.dk"), cancel(1), register(2, email="a@b.dk")
    )
    assert isinstance(event, e.RegistrationConfirmed)


def test_a_municipality_over_its_cap_is_refused_counting_the_waiting_list() -> None:
    state, _ = run(None, schedule(seats=1, cap=2), register(1), register(2))
    with pytest.raises(errors.MunicipalityCapReachedError):
        decide(state, register(3))
    _, [other] = run(state, register(4, code="751"))
    assert isinstance(other, e.RegistrationWaitlisted)


def test_a_cancelled_meeting_takes_no_registrations_and_no_changes() -> None:
    state, _ = run(None, schedule(), c.CancelMeeting(meeting_id=MEETING, at=NOW, reason="Syg"))
    with pytest.raises(errors.MeetingCancelledError):
        decide(state, register(1))
    with pytest.raises(errors.MeetingCancelledError):
        decide(state, c.ChangeSeats(meeting_id=MEETING, at=NOW, seats=9))


def test_an_unknown_meeting_refuses_everything_but_scheduling() -> None:
    with pytest.raises(errors.MeetingNotFoundError):
        decide(None, register(1))


def test_a_meeting_cannot_be_scheduled_twice() -> None:
    state, _ = run(None, schedule())
    with pytest.raises(errors.MeetingAlreadyExistsError):
        decide(state, schedule())


def test_seats_cannot_go_below_zero_nor_below_the_seats_taken() -> None:
    state, _ = run(None, schedule(seats=3), register(1), register(2))
    with pytest.raises(errors.InvalidMeetingError):
        decide(state, c.ChangeSeats(meeting_id=MEETING, at=NOW, seats=-1))
    with pytest.raises(errors.SeatsBelowTakenError):
        decide(state, c.ChangeSeats(meeting_id=MEETING, at=NOW, seats=1))
    _, [lowered] = run(state, c.ChangeSeats(meeting_id=MEETING, at=NOW, seats=2))
    assert isinstance(lowered, e.MeetingSeatsChanged)


def test_a_meeting_must_end_after_it_starts_and_close_registration_before() -> None:
    bad = schedule()
    with pytest.raises(errors.InvalidMeetingError):
        decide(None, c.ScheduleMeeting(**{**bad.__dict__, "ends_at": bad.starts_at}))
    with pytest.raises(errors.InvalidMeetingError):
        decide(
            None,
            c.ScheduleMeeting(
                **{**bad.__dict__, "registration_deadline": bad.starts_at + timedelta(hours=1)}
            ),
        )


def test_cancelling_is_possible_only_before_the_meeting() -> None:
    state, _ = run(None, schedule(), register(1))
    with pytest.raises(errors.MeetingAlreadyStartedError):
        decide(state, cancel(1, at=STARTS))


def test_attendance_is_recorded_after_the_meeting_for_a_seat_holder_only() -> None:
    state, _ = run(None, schedule(seats=1), register(1), register(2))
    attend = c.RecordAttendance(
        meeting_id=MEETING, at=STARTS, registration_id="reg-1", attended=True
    )
    with pytest.raises(errors.MeetingNotHeldYetError):
        decide(
            state,
            c.RecordAttendance(meeting_id=MEETING, at=NOW, registration_id="reg-1", attended=True),
        )
    with pytest.raises(errors.NoSeatError):
        decide(
            state,
            c.RecordAttendance(
                meeting_id=MEETING, at=STARTS, registration_id="reg-2", attended=False
            ),
        )
    state, _ = run(state, attend)
    assert state.registrations["reg-1"].attended is True


def test_reschedule_and_program_change_the_meeting() -> None:
    later = STARTS + timedelta(days=1)
    item = AgendaItem(later, "Velkomst", "KL")
    state, _ = run(
        None,
        schedule(),
        c.RescheduleMeeting(
            meeting_id=MEETING,
            at=NOW,
            starts_at=later,
            ends_at=later + timedelta(hours=5),
            registration_deadline=later - timedelta(days=3),
        ),
        c.PublishProgram(meeting_id=MEETING, at=NOW, items=(item,)),
        c.ChangeOffer(meeting_id=MEETING, at=NOW, next_year_members_free=True),
    )
    assert state.starts_at == later
    assert state.venue_name == "KL-huset"
    assert state.program == (item,)
    assert state.next_year_members_free


def test_every_domain_event_survives_the_trip_through_its_wire_contract() -> None:
    state, _ = run(None, schedule(seats=1, offer=True))
    commands: list[c.Command] = [
        c.PublishProgram(meeting_id=MEETING, at=NOW, items=(AgendaItem(STARTS, "Velkomst"),)),
        register(1),
        register(2, standing=NEXT_YEAR),
        cancel(1),
        c.ChangeSeats(meeting_id=MEETING, at=NOW, seats=4),
        c.RecordAttendance(meeting_id=MEETING, at=STARTS, registration_id="reg-2", attended=True),
        c.CancelMeeting(meeting_id=MEETING, at=STARTS, reason="Aflyst"),
    ]
    seen: list[e.Event] = []
    for command in commands:
        state, events = run(state, command)
        seen.extend(events)
    assert len({type(ev) for ev in seen}) >= 7
    for event in seen:
        assert from_contract(to_contract(event)) == event


def test_the_snapshot_restores_the_same_state() -> None:
    state, _ = run(
        None,
        schedule(seats=2, cap=3, offer=True),
        register(1),
        register(2, standing=NEXT_YEAR),
        register(3),
        register(4, code="751"),
        cancel(1),
    )
    restored = meeting_from_json(meeting_to_json(state))
    assert restored == state
