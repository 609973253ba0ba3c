"""Builders for the meeting aggregate's unit tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.events.domain import commands as c
from services.events.domain import events as e
from services.events.domain.decisions import decide, evolve
from services.events.domain.model import Meeting, MembershipStanding, Participant

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2021, 11, 19, 9, 0, tzinfo=CPH)
STARTS = datetime(2021, 12, 8, 9, 30, tzinfo=CPH)
MEETING = "meeting-knub-2021-3"
MEMBER = MembershipStanding(member_of_year=True, member_of_next_year=False)
NEXT_YEAR = MembershipStanding(member_of_year=False, member_of_next_year=True)
NONE = MembershipStanding(member_of_year=False, member_of_next_year=False)


def schedule(
    seats: int = 2,
    cap: int | None = None,
    guest_price: int | None = None,
    offer: bool = False,
) -> c.ScheduleMeeting:
    return c.ScheduleMeeting(
        meeting_id=MEETING,
        at=NOW,
        network_slug="knub",
        year=2021,
        title="3. netværksmøde 2021",
        description="Anvisning og udlejning",
        starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=6),
        venue_name="KL-huset",
        venue_address="Weidekampsgade 10, 2300 København S",
        seats=seats,
        registration_deadline=datetime(2021, 12, 3, 12, tzinfo=CPH),
        per_municipality_cap=cap,
        guest_price_dkk=guest_price,
        next_year_members_free=offer,
    )


def person_id_of(email: str) -> str:
    """What the vault does at the edge: one person id per e-mail, whatever its case."""
    return f"person-{email.strip().lower()}"


def person(n: int, code: str = "101") -> Participant:
    return Participant(person_id_of(f"p{n}@kommune.dk"), code, f"v1.sealed-{n}")


def register(
    n: int,
    code: str = "101",
    standing: MembershipStanding = MEMBER,
    at: datetime = NOW,
    email: str | None = None,
) -> c.Register:
    p = person(n, code)
    if email is not None:
        p = Participant(person_id_of(email), p.municipality_code, p.sealed)
    return c.Register(
        meeting_id=MEETING, at=at, registration_id=f"reg-{n}", participant=p, standing=standing
    )


def cancel(n: int, at: datetime = NOW) -> c.CancelRegistration:
    return c.CancelRegistration(meeting_id=MEETING, at=at, registration_id=f"reg-{n}")


def run(state: Meeting | None, *commands: c.Command) -> tuple[Meeting, list[e.Event]]:
    """Decide and apply each command in turn; the events of the last one."""
    events: list[e.Event] = []
    for command in commands:
        events = decide(state, command)
        for event in events:
            state = evolve(state, event)
    assert state is not None
    return state, events
