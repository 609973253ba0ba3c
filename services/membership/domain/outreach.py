"""The outreach of one list year: each listed municipality, invited or not, joined or not.

Pure: computed from the current list, the network's memberships, its invitations and what
the meetings topic told of its meetings. Definitions (ours, from the issue):

- The **coming year** of the list of 1 December Y is Y + 1: the year the invitations are for.
- **Status**: ``joined`` when the municipality is an active member for the coming year,
  else ``invited`` once it was invited, else ``not_invited``.
- **Converted**: invited, and an active member for the coming year whose membership began
  at or after the invitation.
- **The offer's meeting**: the one the invitation named, else the network's meeting of the
  list year that had the offer ("next year's members attend free while seats last"), the
  latest if several. **Joined while the offer was open**: the membership began after the
  invitation or the offer's start (whichever came first) and before the meeting began.
- **Staff came**: yes if anyone of the municipality was recorded as attending the offer's
  meeting, no if attendance was recorded for its staff and nobody came, unknown otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.membership.domain.area_lists import AreaList, Category, ListedArea
from services.membership.domain.invitations import Invitation, invitation_year
from services.membership.domain.meeting_facts import MeetingState, RegistrationStatus

NEXT_YEAR_OFFER = "next_year_offer"
"""The registration basis of the offer (see the events service's contract)."""


@dataclass(frozen=True)
class MemberFact:
    """A membership as the roster holds it (no personal data)."""

    network_slug: str
    year: int
    municipality_code: str
    active: bool
    joined_at: datetime
    renewed: bool


class OutreachStatus(StrEnum):
    NOT_INVITED = "not_invited"
    INVITED = "invited"
    JOINED = "joined"


@dataclass(frozen=True)
class OutreachRow:
    municipality_code: str
    municipality_name: str
    areas: tuple[ListedArea, ...]
    categories: tuple[Category, ...]
    member_in_list_year: bool
    membership: str | None
    """The coming year's membership: "active", "cancelled" or None."""
    status: OutreachStatus
    invited_at: datetime | None
    reminders: int
    last_reminded_at: datetime | None
    joined_at: datetime | None
    converted: bool
    joined_while_offer_open: bool
    staff_registered: int
    registered_with_offer: int
    staff_came: bool | None


@dataclass(frozen=True)
class OfferMeeting:
    meeting_id: str
    title: str
    starts_at: datetime
    seats: int
    confirmed: int
    offer: bool
    offer_since: datetime | None

    @property
    def free(self) -> int:
        return max(self.seats - self.confirmed, 0)


@dataclass(frozen=True)
class OutreachReport:
    network_slug: str
    area_list: AreaList
    year: int
    offer_meeting: OfferMeeting | None
    rows: tuple[OutreachRow, ...]

    def totals(self) -> dict[str, int]:
        count = {s: sum(r.status is s for r in self.rows) for s in OutreachStatus}
        return {
            "listed": len(self.rows),
            "not_invited": count[OutreachStatus.NOT_INVITED],
            "invited": count[OutreachStatus.INVITED],
            "joined": count[OutreachStatus.JOINED],
            "converted": sum(r.converted for r in self.rows),
            "joined_while_offer_open": sum(r.joined_while_offer_open for r in self.rows),
            "staff_came": sum(r.staff_came is True for r in self.rows),
        }


def membership_index(members: Iterable[MemberFact]) -> dict[tuple[str, int, str], MemberFact]:
    return {(m.network_slug, m.year, m.municipality_code): m for m in members}


def offer_meeting(
    meetings: Mapping[str, MeetingState], network_slug: str, year: int
) -> MeetingState | None:
    """The network's meeting of ``year`` that had the offer (the latest, if several)."""
    candidates = [
        m
        for m in meetings.values()
        if m.network_slug == network_slug
        and m.year == year
        and m.offer_since is not None
        and not m.cancelled
    ]
    return max(candidates, key=lambda m: (m.starts_at, m.meeting_id), default=None)


def meeting_of(
    invitation: Invitation | None,
    meetings: Mapping[str, MeetingState],
    default: MeetingState | None,
) -> MeetingState | None:
    """The offer's meeting for an invitation: the one it named, if known, else ``default``."""
    if invitation is None or invitation.meeting_id is None:
        return default
    return meetings.get(invitation.meeting_id, default)


def joined_while_offer_open(
    joined_at: datetime | None, invited_at: datetime | None, meeting: MeetingState | None
) -> bool:
    """Began after the invitation or the offer's start (the earlier), before the meeting."""
    if joined_at is None or meeting is None or meeting.cancelled:
        return False
    opened = [t for t in (invited_at, meeting.offer_since) if t is not None]
    return bool(opened) and min(opened) <= joined_at < meeting.starts_at


def staff_came(meeting: MeetingState | None, municipality_code: str) -> bool | None:
    if meeting is None:
        return None
    recorded = [
        r.attended
        for r in meeting.registrations.values()
        if r.municipality_code == municipality_code and r.attended is not None
    ]
    return any(recorded) if recorded else None


def outreach(
    network_slug: str,
    area_list: AreaList,
    members: Sequence[MemberFact],
    invitations: Sequence[Invitation],
    meetings: Mapping[str, MeetingState],
) -> OutreachReport:
    """The outreach of ``area_list`` for ``network_slug``, one row per listed municipality."""
    year = invitation_year(area_list)
    by_key = membership_index(members)
    invited = {
        i.municipality_code: i
        for i in invitations
        if i.network_slug == network_slug and i.year == year
    }
    default_offer = offer_meeting(meetings, network_slug, area_list.list_date.year)
    rows: list[OutreachRow] = []
    for code in area_list.municipality_codes:
        areas = tuple(r for r in area_list.rows if r.municipality_code == code)
        invitation = invited.get(code)
        meeting = meeting_of(invitation, meetings, default_offer)
        coming = by_key.get((network_slug, year, code))
        current = by_key.get((network_slug, area_list.list_date.year, code))
        joined_at = coming.joined_at if coming is not None else None
        invited_at = invitation.invited_at if invitation is not None else None
        active = coming is not None and coming.active
        staff = [
            r
            for r in (meeting.registrations.values() if meeting is not None else ())
            if r.municipality_code == code and r.status is not RegistrationStatus.CANCELLED
        ]
        rows.append(
            OutreachRow(
                municipality_code=code,
                municipality_name=areas[0].municipality_name,
                areas=areas,
                categories=tuple(c for c in Category if any(a.category is c for a in areas)),
                member_in_list_year=current is not None and current.active,
                membership=None if coming is None else ("active" if active else "cancelled"),
                status=(
                    OutreachStatus.JOINED
                    if active
                    else OutreachStatus.INVITED
                    if invitation is not None
                    else OutreachStatus.NOT_INVITED
                ),
                invited_at=invited_at,
                reminders=invitation.reminders if invitation is not None else 0,
                last_reminded_at=invitation.last_reminded_at if invitation is not None else None,
                joined_at=joined_at,
                converted=active
                and invited_at is not None
                and joined_at is not None
                and joined_at >= invited_at,
                joined_while_offer_open=active
                and joined_while_offer_open(joined_at, invited_at, meeting),
                staff_registered=len(staff),
                registered_with_offer=sum(r.basis == NEXT_YEAR_OFFER for r in staff),
                staff_came=staff_came(meeting, code),
            )
        )
    return OutreachReport(
        network_slug=network_slug,
        area_list=area_list,
        year=year,
        offer_meeting=None if default_offer is None else offer_view(default_offer),
        rows=tuple(rows),
    )


def offer_view(meeting: MeetingState) -> OfferMeeting:
    return OfferMeeting(
        meeting_id=meeting.meeting_id,
        title=meeting.title,
        starts_at=meeting.starts_at,
        seats=meeting.seats,
        confirmed=sum(
            r.status is RegistrationStatus.CONFIRMED for r in meeting.registrations.values()
        ),
        offer=meeting.offer,
        offer_since=meeting.offer_since,
    )
