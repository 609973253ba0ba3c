"""Invitations to join a network: who is told what (pure).

An invitation names the municipality's areas on the yearly lists, the network and the year,
the offer (the meeting's date, and its free seats as this service's own view counts them,
when the invitation names a meeting) and the municipality's page to join on. A reminder is
the same mail again, said to be one. A contact who is erased gets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.notifications.domain.model import (
    Meeting,
    NotificationIntent,
    NotificationKind,
    Person,
)

CATEGORY_NAMES = {
    "udsat": "udsat boligområde",
    "parallelsamfund": "parallelsamfund",
    "omdannelsesomraade": "omdannelsesområde",
    "forebyggelsesomraade": "forebyggelsesområde",
}


@dataclass(frozen=True)
class InvitationIssued:
    """A municipality was invited (``reminder`` 0), or reminded (1, 2 ...)."""

    invitation_id: str
    network_slug: str
    year: int
    list_date: date
    municipality_code: str
    municipality_name: str
    areas: tuple[tuple[str, str], ...]
    """(category, area) of each of the municipality's rows on the lists."""
    meeting_id: str | None
    contact: Person
    reminder: int = 0


def areas_text(areas: tuple[tuple[str, str], ...]) -> str:
    """One line per area, its categories by their Danish names: "- Vollsmose (parallelsamfund,
    udsat boligområde)"."""
    by_area: dict[str, list[str]] = {}
    for category, area in areas:
        by_area.setdefault(area, []).append(CATEGORY_NAMES.get(category, category))
    return "\n".join(f"- {area} ({', '.join(names)})" for area, names in sorted(by_area.items()))


def decide_invitation(
    event: InvitationIssued,
    *,
    network_name: str | None,
    meeting: Meeting | None,
    seats_left: int | None,
    web_url: str,
) -> list[NotificationIntent]:
    """The invitation mail to the contact the operator gave (none if they are erased)."""
    if not event.contact.email:
        return []
    return [
        NotificationIntent(
            kind=NotificationKind.MEMBERSHIP_INVITATION,
            recipient=event.contact,
            municipality_code=event.municipality_code,
            meeting=meeting,
            facts={
                "network_name": network_name or event.network_slug.upper(),
                "year": event.year,
                "list_date": event.list_date.isoformat(),
                "municipality_name": event.municipality_name,
                "areas": areas_text(event.areas),
                "seats_left": seats_left,
                "join_url": f"{web_url.rstrip('/')}/kommuner/{event.municipality_code}",
                "meeting_url": (
                    f"{web_url.rstrip('/')}/moeder/{meeting.meeting_id}" if meeting else None
                ),
                "reminder": event.reminder,
            },
        )
    ]


def greeting_name(name: str, municipality_name: str) -> str:
    """Whom the mail greets: the contact's name, else the municipality's contact."""
    return name.strip() or f"kontaktperson i {municipality_name} Kommune"
