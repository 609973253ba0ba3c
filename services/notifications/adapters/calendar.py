"""RFC 5545 calendar objects (iTIP REQUEST and CANCEL) for meeting invitations."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event, vCalAddress, vText

from services.notifications.domain.danish_time import local
from services.notifications.domain.model import CalendarAction, Meeting, Person

PRODID = "-//KL//Netvaerksmoeder//DA"


def calendar_object(
    action: CalendarAction,
    meeting: Meeting,
    attendee: Person,
    organiser: Person,
    stamp: datetime,
) -> bytes:
    """A VCALENDAR with METHOD and one VEVENT; times carry TZID Europe/Copenhagen.

    The UID is stable per registration and SEQUENCE grows with each object sent for it, so
    a calendar replaces the entry on an update and removes it on a CANCEL.
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
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data


def _address(person: Person, role: str | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["cn"] = vText(person.name)
    if role:
        address.params["role"] = vText(role)
        address.params["partstat"] = vText("ACCEPTED")
    return address
