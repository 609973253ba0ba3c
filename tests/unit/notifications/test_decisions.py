"""Who is told what: the pure decisions, from an event and the service's view."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifications.domain.decisions import (
    Policy,
    UnknownMeetingError,
    decide,
    decide_reminders,
    decide_welcome,
    evolve_meeting,
    evolve_registrations,
    needs_every_registration,
    reminder_due_at,
)
from services.notifications.domain.events import (
    MeetingCancelled,
    MeetingProgramChanged,
    MeetingRescheduled,
    MeetingScheduled,
    MembershipStarted,
    RegistrationCancelled,
    RegistrationConfirmed,
    RegistrationPromoted,
    RegistrationWaitlisted,
)
from services.notifications.domain.model import (
    AgendaItem,
    Meeting,
    MeetingStatus,
    NotificationKind,
    Person,
    Registration,
    RegistrationStatus,
)

K = NotificationKind
ORGANISER = Person("KL", "netvaerk@kl.dk")
POLICY = Policy(organiser=ORGANISER, reminder_before=timedelta(days=2))
START = datetime(2021, 12, 8, 8, 30, tzinfo=UTC)
MEETING = Meeting(
    meeting_id="meeting-knub-2021-3",
    title="3. netværksmøde 2021",
    description="Anvisning og udlejning",
    starts_at=START,
    ends_at=START + timedelta(hours=6),
    venue_name="KL-huset",
    venue_address="Weidekampsgade 10, 2300 København S",
)
ANNE = Person("Anne Jensen", "anne.jensen@aarhus.dk")
BO = Person("Bo Holm", "bo.holm@odense.dk")


def reg(
    rid: str,
    person: Person,
    status: RegistrationStatus,
    sequence: int | None = None,
    position: int | None = None,
) -> Registration:
    return Registration(rid, MEETING.meeting_id, person, "751", status, position, sequence)


SEATED = reg("reg-1", ANNE, RegistrationStatus.SEAT, sequence=0)
WAITING = reg("reg-2", BO, RegistrationStatus.WAITING, position=1)


def test_a_confirmed_registration_gets_a_confirmation_with_a_calendar_request() -> None:
    event = RegistrationConfirmed(
        MEETING.meeting_id, "reg-1", ANNE, "751", basis="member", price_dkk=0
    )
    [intent] = decide(event, MEETING, [], POLICY)
    assert intent.kind is K.REGISTRATION_CONFIRMED
    assert intent.recipient == ANNE
    assert intent.municipality_code == "751"
    assert intent.calendar is not None
    assert (intent.calendar.method, intent.calendar.sequence) == ("REQUEST", 0)
    assert intent.calendar.uid == "reg-1@netvaerk.kl.dk"


def test_a_waitlisted_registration_is_told_its_position_and_gets_no_calendar() -> None:
    event = RegistrationWaitlisted(
        MEETING.meeting_id, "reg-2", BO, "461", position=3, basis="member", price_dkk=0
    )
    [intent] = decide(event, MEETING, [], POLICY)
    assert intent.kind is K.REGISTRATION_WAITLISTED
    assert intent.facts["position"] == 3
    assert intent.calendar is None


def test_a_promotion_tells_the_participant_with_an_invitation_and_the_organiser() -> None:
    event = RegistrationPromoted(MEETING.meeting_id, "reg-2", BO, "461")
    participant, organiser = decide(event, MEETING, [SEATED, WAITING], POLICY)
    assert participant.kind is K.REGISTRATION_PROMOTED
    assert participant.recipient == BO
    assert participant.calendar is not None
    assert participant.calendar.method == "REQUEST"
    assert organiser.kind is K.ORGANISER_WAITLIST_MOVED
    assert organiser.recipient == ORGANISER
    assert organiser.municipality_code is None
    assert organiser.facts["participant_name"] == "Bo Holm"


def test_a_promotion_of_someone_who_already_has_the_seat_tells_nobody() -> None:
    event = RegistrationPromoted(MEETING.meeting_id, "reg-1", ANNE, "751")
    assert decide(event, MEETING, [SEATED], POLICY) == []


def test_cancelling_a_seat_sends_a_calendar_cancel_with_a_higher_sequence_and_tells_kl() -> None:
    event = RegistrationCancelled(
        MEETING.meeting_id, "reg-1", ANNE, "751", cancelled_by="participant", had_seat=True
    )
    participant, organiser = decide(event, MEETING, [SEATED], POLICY)
    assert participant.kind is K.REGISTRATION_CANCELLED
    assert participant.calendar is not None
    assert (participant.calendar.method, participant.calendar.sequence) == ("CANCEL", 1)
    assert organiser.kind is K.ORGANISER_REGISTRATION_CANCELLED
    assert organiser.recipient.email == "netvaerk@kl.dk"


def test_cancelling_a_place_on_the_waiting_list_sends_no_calendar_cancel() -> None:
    event = RegistrationCancelled(
        MEETING.meeting_id, "reg-2", BO, "461", cancelled_by="municipality", had_seat=False
    )
    participant, _ = decide(event, MEETING, [WAITING], POLICY)
    assert participant.calendar is None


def test_a_registration_already_cancelled_is_not_told_twice() -> None:
    gone = replace(SEATED, status=RegistrationStatus.CANCELLED)
    event = RegistrationCancelled(
        MEETING.meeting_id, "reg-1", ANNE, "751", cancelled_by="operator", had_seat=True
    )
    assert decide(event, MEETING, [gone], POLICY) == []


def test_a_rescheduled_meeting_tells_everyone_registered_and_updates_seated_calendars() -> None:
    later = START + timedelta(days=7)
    event = MeetingRescheduled(
        MEETING.meeting_id, later, later + timedelta(hours=6), "Aarhus Rådhus", "Rådhuspladsen 2"
    )
    cancelled = reg("reg-3", BO, RegistrationStatus.CANCELLED)
    intents = decide(event, MEETING, [SEATED, WAITING, cancelled], POLICY)
    assert {i.registration_id for i in intents} == {"reg-1", "reg-2"}
    by_reg = {i.registration_id: i for i in intents}
    seated, waiting = by_reg["reg-1"], by_reg["reg-2"]
    assert all(i.kind is K.MEETING_RESCHEDULED for i in intents)
    assert seated.meeting is not None
    assert seated.meeting.starts_at == later
    assert seated.calendar is not None
    assert seated.calendar.sequence == 1
    assert waiting.calendar is None
    assert seated.facts["previous_starts_at"] == START.isoformat()


def test_a_changed_program_tells_everyone_registered_with_an_update_for_the_seated() -> None:
    program = (AgendaItem(START, "Velkomst", "KL"),)
    intents = decide(
        MeetingProgramChanged(MEETING.meeting_id, program), MEETING, [SEATED, WAITING], POLICY
    )
    assert [i.kind for i in intents] == [K.MEETING_PROGRAM_CHANGED] * 2
    assert intents[0].meeting is not None
    assert intents[0].meeting.program == program
    assert [i.calendar is not None for i in intents] == [True, False]


def test_a_cancelled_meeting_tells_everyone_and_cancels_the_seated_calendars() -> None:
    intents = decide(
        MeetingCancelled(MEETING.meeting_id, "For få tilmeldte"), MEETING, [SEATED, WAITING], POLICY
    )
    assert [i.kind for i in intents] == [K.MEETING_CANCELLED] * 2
    assert intents[0].calendar is not None
    assert intents[0].calendar.method == "CANCEL"
    assert intents[1].calendar is None
    assert intents[0].facts["reason"] == "For få tilmeldte"


def test_nothing_more_is_said_about_a_meeting_once_it_is_cancelled() -> None:
    cancelled = replace(MEETING, status=MeetingStatus.CANCELLED)
    event = MeetingRescheduled(MEETING.meeting_id, START, START, "X", "Y")
    assert decide(event, cancelled, [SEATED], POLICY) == []


def test_an_event_about_a_meeting_never_scheduled_is_an_error() -> None:
    event = RegistrationConfirmed(
        "meeting-unknown", "reg-1", ANNE, "751", basis="member", price_dkk=0
    )
    with pytest.raises(UnknownMeetingError):
        decide(event, None, [], POLICY)


def test_scheduling_a_meeting_tells_nobody_yet() -> None:
    assert decide(MeetingScheduled(MEETING), None, [], POLICY) == []


def test_membership_joined_and_renewed_welcome_the_contact_person() -> None:
    contact = Person("Mette Hansen", "mette.hansen@kk.dk")
    event = MembershipStarted(
        "membership-knub-2022-101", "knub", None, 2022, "101", "København", contact, renewed=True
    )
    [intent] = decide_welcome(event)
    assert intent.kind is K.MEMBERSHIP_WELCOME
    assert intent.recipient == contact
    assert intent.municipality_code == "101"
    assert intent.facts["renewed"] == "ja"
    assert intent.facts["network_name"] == "KNUB"


def test_the_reminder_is_due_the_configured_time_before_the_start() -> None:
    assert reminder_due_at(MEETING, POLICY) == START - timedelta(days=2)
    assert reminder_due_at(replace(MEETING, status=MeetingStatus.CANCELLED), POLICY) is None


def test_reminders_go_to_those_with_a_seat_and_not_after_the_start() -> None:
    before = START - timedelta(days=2)
    intents = decide_reminders(MEETING, [SEATED, WAITING], before, POLICY)
    assert [(i.kind, i.registration_id) for i in intents] == [(K.MEETING_REMINDER, "reg-1")]
    assert decide_reminders(MEETING, [SEATED], START, POLICY) == []


def test_evolve_records_the_calendar_sequence_sent_and_the_new_status() -> None:
    event = RegistrationPromoted(MEETING.meeting_id, "reg-2", BO, "461")
    intents = decide(event, MEETING, [SEATED, WAITING], POLICY)
    [changed] = evolve_registrations([SEATED, WAITING], event, intents)
    assert changed.status is RegistrationStatus.SEAT
    assert changed.calendar_sequence == 0


def test_a_meeting_cancellation_cancels_every_registration_in_the_view() -> None:
    event = MeetingCancelled(MEETING.meeting_id, "Sygdom")
    intents = decide(event, MEETING, [SEATED, WAITING], POLICY)
    changed = evolve_registrations([SEATED, WAITING], event, intents)
    assert {r.status for r in changed} == {RegistrationStatus.CANCELLED}
    assert {r.registration_id: r.calendar_sequence for r in changed} == {"reg-1": 1, "reg-2": None}
    after = evolve_meeting(MEETING, event)
    assert after is not None
    assert after.status is MeetingStatus.CANCELLED


REGISTRATION_EVENTS = st.sampled_from(["confirmed", "waitlisted", "promoted", "cancelled"])


@settings(max_examples=200)
@given(
    others=st.lists(
        st.tuples(st.sampled_from(list(RegistrationStatus)), st.none() | st.integers(0, 3)),
        max_size=8,
    ),
    own=st.none() | st.tuples(st.sampled_from(list(RegistrationStatus)), st.integers(0, 3)),
    what=REGISTRATION_EVENTS,
    had_seat=st.booleans(),
)
def test_a_registration_event_needs_only_its_own_registration(
    others: list[tuple[RegistrationStatus, int | None]],
    own: tuple[RegistrationStatus, int] | None,
    what: str,
    had_seat: bool,
) -> None:
    """Why the service loads one registration for a registration event, not the meeting's."""
    everyone = [
        reg(f"reg-other-{n}", Person(f"P{n}", f"p{n}@kk.dk"), status, sequence=seq)
        for n, (status, seq) in enumerate(others)
    ]
    mine = None if own is None else reg("reg-mine", ANNE, own[0], sequence=own[1])
    if mine is not None:
        everyone.insert(len(everyone) // 2, mine)
    event = {
        "confirmed": RegistrationConfirmed(
            MEETING.meeting_id, "reg-mine", ANNE, "751", basis="member", price_dkk=0
        ),
        "waitlisted": RegistrationWaitlisted(
            MEETING.meeting_id, "reg-mine", ANNE, "751", position=2, basis="member", price_dkk=0
        ),
        "promoted": RegistrationPromoted(MEETING.meeting_id, "reg-mine", ANNE, "751"),
        "cancelled": RegistrationCancelled(
            MEETING.meeting_id, "reg-mine", ANNE, "751", cancelled_by="operator", had_seat=had_seat
        ),
    }[what]
    assert not needs_every_registration(event)
    alone = [] if mine is None else [mine]
    assert decide(event, MEETING, everyone, POLICY) == decide(event, MEETING, alone, POLICY)
    intents = decide(event, MEETING, everyone, POLICY)
    assert evolve_registrations(everyone, event, intents) == evolve_registrations(
        alone, event, intents
    )
