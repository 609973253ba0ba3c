"""The network's own statistics: members per year, meetings, and coverage of the lists.

Pure: computed from the memberships, the invitations, the lists and what the meetings topic
told of the network's meetings. Definitions (ours):

- **Members of a year**: active memberships of the year, split in three that add up:
  ``renewed`` (renewed from the year before), ``through_offer`` (a new membership that
  began while the offer of the year before was open: after its invitation or the offer's
  start, before the offer's meeting; see :mod:`.outreach`) and ``new`` (every other new
  one). ``cancelled`` counts the year's cancelled memberships beside them.
- **Per meeting**: ``seats`` now; ``confirmed`` and ``waiting`` now; ``promoted`` (ever got
  a seat from the waiting list), ``cancelled``, ``attended`` and ``no_shows`` (attendance
  recorded as not come); the **no-show rate** is no-shows over the registrations whose
  attendance was recorded (None while none was).
- **Coverage**: per list, membership year (the list's and the coming one) and category
  (and all categories, ``alle``), the share of the listed municipalities that are active
  members that year.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.membership.domain.area_lists import AreaList, Category
from services.membership.domain.invitations import Invitation
from services.membership.domain.meeting_facts import MeetingState, RegistrationStatus
from services.membership.domain.outreach import (
    NEXT_YEAR_OFFER,
    MemberFact,
    joined_while_offer_open,
    meeting_of,
    offer_meeting,
)

ALL_CATEGORIES = "alle"


@dataclass(frozen=True)
class MembersOfYear:
    year: int
    members: int
    new: int
    renewed: int
    through_offer: int
    cancelled: int


@dataclass(frozen=True)
class MeetingFigures:
    meeting_id: str
    title: str
    year: int
    starts_at: datetime
    seats: int
    confirmed: int
    waiting: int
    promoted: int
    cancelled: int
    with_offer: int
    attended: int
    no_shows: int

    @property
    def no_show_rate(self) -> float | None:
        recorded = self.attended + self.no_shows
        return None if recorded == 0 else self.no_shows / recorded


@dataclass(frozen=True)
class Coverage:
    list_date: str
    year: int
    category: str
    listed: int
    members: int

    @property
    def share(self) -> float | None:
        return None if self.listed == 0 else self.members / self.listed


@dataclass(frozen=True)
class Statistics:
    network_slug: str
    members: tuple[MembersOfYear, ...]
    meetings: tuple[MeetingFigures, ...]
    coverage: tuple[Coverage, ...]


def members_per_year(
    network_slug: str,
    members: Sequence[MemberFact],
    invitations: Sequence[Invitation],
    meetings: Mapping[str, MeetingState],
) -> tuple[MembersOfYear, ...]:
    ours = [m for m in members if m.network_slug == network_slug]
    invited = {
        (i.year, i.municipality_code): i for i in invitations if i.network_slug == network_slug
    }
    result: list[MembersOfYear] = []
    years = sorted({m.year for m in ours})
    default_offers = {y - 1: offer_meeting(meetings, network_slug, y - 1) for y in years}
    for year in years:
        active = [m for m in ours if m.year == year and m.active]
        renewed = sum(m.renewed for m in active)
        through_offer = 0
        for m in active:
            if m.renewed:
                continue
            invitation = invited.get((year, m.municipality_code))
            meeting = meeting_of(invitation, meetings, default_offers.get(year - 1))
            invited_at = invitation.invited_at if invitation is not None else None
            through_offer += joined_while_offer_open(m.joined_at, invited_at, meeting)
        result.append(
            MembersOfYear(
                year=year,
                members=len(active),
                new=len(active) - renewed - through_offer,
                renewed=renewed,
                through_offer=through_offer,
                cancelled=sum(1 for m in ours if m.year == year and not m.active),
            )
        )
    return tuple(result)


def meeting_figures(meeting: MeetingState) -> MeetingFigures:
    registrations = list(meeting.registrations.values())
    status = [r.status for r in registrations]
    return MeetingFigures(
        meeting_id=meeting.meeting_id,
        title=meeting.title,
        year=meeting.year,
        starts_at=meeting.starts_at,
        seats=meeting.seats,
        confirmed=status.count(RegistrationStatus.CONFIRMED),
        waiting=status.count(RegistrationStatus.WAITLISTED),
        promoted=sum(r.promoted for r in registrations),
        cancelled=status.count(RegistrationStatus.CANCELLED),
        with_offer=sum(
            r.basis == NEXT_YEAR_OFFER and r.status is not RegistrationStatus.CANCELLED
            for r in registrations
        ),
        attended=sum(r.attended is True for r in registrations),
        no_shows=sum(r.attended is False for r in registrations),
    )


def coverage(
    network_slug: str, lists: Sequence[AreaList], members: Sequence[MemberFact]
) -> tuple[Coverage, ...]:
    active = {
        (m.year, m.municipality_code)
        for m in members
        if m.network_slug == network_slug and m.active
    }
    rows: list[Coverage] = []
    for area_list in sorted(lists, key=lambda a: a.list_date):
        by_category: dict[str, set[str]] = {}
        for row in area_list.rows:
            by_category.setdefault(row.category.value, set()).add(row.municipality_code)
        groups: list[tuple[str, set[str]]] = [
            (c.value, by_category[c.value]) for c in Category if c.value in by_category
        ]
        groups.append((ALL_CATEGORIES, set(area_list.municipality_codes)))
        for year in (area_list.list_date.year, area_list.list_date.year + 1):
            for category, codes in groups:
                rows.append(
                    Coverage(
                        list_date=area_list.list_date.isoformat(),
                        year=year,
                        category=category,
                        listed=len(codes),
                        members=sum((year, code) in active for code in codes),
                    )
                )
    return tuple(rows)


def statistics(
    network_slug: str,
    lists: Sequence[AreaList],
    members: Sequence[MemberFact],
    invitations: Sequence[Invitation],
    meetings: Mapping[str, MeetingState],
) -> Statistics:
    ours = sorted(
        (m for m in meetings.values() if m.network_slug == network_slug),
        key=lambda m: (m.starts_at, m.meeting_id),
    )
    return Statistics(
        network_slug=network_slug,
        members=members_per_year(network_slug, members, invitations, meetings),
        meetings=tuple(meeting_figures(m) for m in ours),
        coverage=coverage(network_slug, lists, members),
    )
