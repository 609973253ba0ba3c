"""The seed's story as demo data: KNUB's 3rd network meeting of 2021 in KL-huset.

``seed_demo`` is idempotent: it schedules the meeting and publishes its program only if
the meeting does not exist yet. The operator CLI calls it through
``services.events.operations.seed_database``; the demo runs "as of 19 November 2021"
(``EVENTS_CLOCK_AS_OF=2021-11-19T09:00:00+01:00``).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.events.config import Settings
from services.events.domain import commands as c
from services.events.domain.errors import MeetingNotFoundError
from services.events.domain.model import AgendaItem
from services.events.service_layer.batching import MeetingService
from services.kernel.clock import Clock

CPH = ZoneInfo("Europe/Copenhagen")
DEMO_MEETING_ID = "meeting-knub-2021-3"
DEMO_SEATS = 80


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2021, 12, 8, hour, minute, tzinfo=CPH)


DEMO_PROGRAM = (
    AgendaItem(_at(9, 30), "Ankomst, kaffe og morgenbrød"),
    AgendaItem(_at(10), "Velkomst og nyt fra KL", "KL, Kontor for Beskæftigelse og Integration"),
    AgendaItem(
        _at(10, 15),
        "Ghettolisten 2021 og de nye forebyggelsesområder: hvad betyder listerne for kommunerne?",
        "KL",
    ),
    AgendaItem(
        _at(11),
        "Systematisk anvisning og udlejning: erfaringer fra kommunerne",
        "Oplæg fra to medlemskommuner",
    ),
    AgendaItem(_at(12), "Frokost og netværk"),
    AgendaItem(_at(12, 45), "Boligsocial monitorering som redskab i anvisningen"),
    AgendaItem(_at(13, 30), "Housing first-strategier i praksis"),
    AgendaItem(_at(14, 15), "Strategiske aftaler med boligorganisationerne", "Paneldebat"),
    AgendaItem(_at(15), "Erfaringsudveksling i grupper og opsamling"),
    AgendaItem(_at(15, 30), "Tak for i dag"),
)


def demo_schedule(at: datetime) -> c.ScheduleMeeting:
    """The 3rd network meeting of 2021, as the seed text announces it."""
    return c.ScheduleMeeting(
        meeting_id=DEMO_MEETING_ID,
        at=at,
        network_slug="knub",
        year=2021,
        title="3. netværksmøde 2021 i Kommunernes Netværk for Udsatte Boligområder",
        description=(
            "Netværksmødet holdes en uge efter offentliggørelsen af årets ghettoliste og den "
            "nye liste over forebyggelsesområder. Fokus er kommunernes erfaringer med at "
            "systematisere anvisning og udlejning af boliger, bl.a. med redskaber som "
            "boligsocial monitorering, housing first-strategier og strategiske aftaler med "
            "boligorganisationer. Tilmeld kommunen netværket for 2022 nu, og deltag gratis i "
            "mødet, så længe der er ledige pladser."
        ),
        starts_at=_at(9, 30),
        ends_at=_at(15, 30),
        venue_name="KL-huset",
        venue_address="Weidekampsgade 10, 2300 København S",
        seats=DEMO_SEATS,
        registration_deadline=datetime(2021, 12, 3, 12, 0, tzinfo=CPH),
        per_municipality_cap=3,
        guest_price_dkk=None,
        next_year_members_free=True,
    )


async def seed_demo(meetings: MeetingService, clock: Clock) -> bool:
    """Schedule the demo meeting with its program unless it exists; True if it was made."""
    try:
        await meetings.meeting(DEMO_MEETING_ID)
    except MeetingNotFoundError:
        pass
    else:
        return False
    now = clock.now()

    def render(_: object, __: object) -> tuple[int, None]:
        return 200, None

    await meetings.execute(demo_schedule(now), render)
    await meetings.execute(
        c.PublishProgram(meeting_id=DEMO_MEETING_ID, at=now, items=DEMO_PROGRAM), render
    )
    return True


async def seed_database(settings: Settings | None = None) -> bool:
    """Seed the demo into the configured database; see ``operations.seed_database``."""
    from services.events.operations import seed_database as seed  # the wiring imports us

    return await seed(settings)
