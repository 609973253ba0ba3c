"""RFC 5545 calendar objects (iTIP REQUEST and CANCEL) for meeting invitations."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from services.notifications.domain.danish_time import COPENHAGEN, local
from services.notifications.domain.model import CalendarAction, Meeting, Person

PRODID = "-//KL//Netvaerksmoeder//DA"
TZID = str(COPENHAGEN)

_EVENT_BEGINS = b"BEGIN:VEVENT\r\n"


def calendar_object(
    action: CalendarAction,
    meeting: Meeting,
    attendee: Person,
    organiser: Person,
    stamp: datetime,
) -> bytes:
    """A VCALENDAR with METHOD, the VTIMEZONE and one VEVENT; times carry TZID
    Europe/Copenhagen.

    The UID is stable per registration and SEQUENCE grows with each object sent for it, so
    a calendar replaces the entry on an update and removes it on a CANCEL.

    The VTIMEZONE covers the years of the meeting only (not every transition from 1970 to
    2038) and is written once per process for those years (:func:`timezone_block`): it is
    the same for every invitation to meetings of those years, and writing it again for each
    mail cost more than the rest of the calendar object.
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", action.method)
    event = Event()
    event.add("uid", action.uid)
    event.add("sequence", action.sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", local(meeting.starts_at))
    event.add("dtend", local(meeting.ends_at))
    event.add("summary", meeting.title)
    event.add("location", meeting.location)
    if meeting.description:
        event.add("description", meeting.description)
    event.add("status", "CANCELLED" if action.method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(organiser, role=None))
    event.add("attendee", _address(attendee, role="REQ-PARTICIPANT"))
    cal.add_component(event)
    data: bytes = cal.to_ical()
    # Where icalendar's add_missing_timezones() puts it: before the first component.
    at = data.index(_EVENT_BEGINS)
    tz = timezone_block(local(meeting.starts_at).year, local(meeting.ends_at).year)
    return data[:at] + tz + data[at:]


@lru_cache(maxsize=64)
def timezone_block(first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE of Copenhagen from 1 January of ``first_year`` to the end of
    ``last_year``, as icalendar writes it (cached: a handful of year ranges per process)."""
    tz = Timezone.from_tzid(
        TZID, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )
    block: bytes = tz.to_ical()
    return block


def _address(person: Person, role: str | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["cn"] = vText(person.name)
    if role:
        address.params["role"] = vText(role)
        address.params["partstat"] = vText("ACCEPTED")
    return address
