"""The outreach API's models for the outreach of a list year and the network's statistics,
each with an example for the OpenAPI page. Nothing personal: counts, dates, municipalities."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.kernel.examples import examples
from services.membership.domain.outreach import OfferMeeting, OutreachReport, OutreachRow
from services.membership.domain.statistics import Statistics
from services.membership.entrypoints.outreach_schemas import AREA_EXAMPLE, ListedAreaView

Status = Literal["not_invited", "invited", "joined"]

_OFFER: dict[str, Any] = {
    "meeting_id": "meeting-knub-2021-3",
    "title": "3. netværksmøde 2021",
    "starts_at": "2021-12-08T09:30:00+01:00",
    "seats": 80,
    "confirmed": 4,
    "free": 76,
    "offer": True,
    "offer_since": "2021-11-19T09:00:00+01:00",
}
_ROW: dict[str, Any] = {
    "municipality_code": "461",
    "municipality_name": "Odense",
    "areas": [AREA_EXAMPLE],
    "categories": ["parallelsamfund"],
    "member_in_list_year": True,
    "membership": None,
    "status": "invited",
    "invited_at": "2021-12-02T10:00:00+01:00",
    "reminders": 0,
    "last_reminded_at": None,
    "joined_at": None,
    "converted": False,
    "joined_while_offer_open": False,
    "staff_registered": 1,
    "registered_with_offer": 0,
    "staff_came": None,
}
_TOTALS: dict[str, Any] = {
    "listed": 12,
    "not_invited": 2,
    "invited": 9,
    "joined": 1,
    "converted": 1,
    "joined_while_offer_open": 1,
    "staff_came": 0,
}


class OfferMeetingView(BaseModel):
    model_config = examples(_OFFER)

    meeting_id: str
    title: str
    starts_at: datetime
    seats: int
    confirmed: int
    free: int
    offer: bool
    offer_since: datetime | None

    @classmethod
    def of(cls, m: OfferMeeting) -> OfferMeetingView:
        return cls.model_validate(
            {**{k: getattr(m, k) for k in cls.model_fields if k != "free"}, "free": m.free}
        )


class OutreachRowView(BaseModel):
    """A listed municipality in the outreach (no personal data)."""

    model_config = examples(_ROW)

    municipality_code: str
    municipality_name: str
    areas: list[ListedAreaView]
    categories: list[str]
    member_in_list_year: bool
    membership: Literal["active", "cancelled"] | None = Field(
        description="The coming year's membership."
    )
    status: Status
    invited_at: datetime | None
    reminders: int
    last_reminded_at: datetime | None
    joined_at: datetime | None
    converted: bool = Field(description="Joined (for the coming year) after its invitation.")
    joined_while_offer_open: bool
    staff_registered: int = Field(description="Registrations for the offer's meeting.")
    registered_with_offer: int
    staff_came: bool | None = Field(description="None: no attendance recorded (yet).")

    @classmethod
    def of(cls, r: OutreachRow) -> OutreachRowView:
        fields = {k: getattr(r, k) for k in cls.model_fields if k not in ("areas", "categories")}
        return cls.model_validate(
            {
                **fields,
                "areas": [ListedAreaView.of(a) for a in r.areas],
                "categories": [c.value for c in r.categories],
            }
        )


class OutreachTotals(BaseModel):
    model_config = examples(_TOTALS)

    listed: int
    not_invited: int
    invited: int
    joined: int
    converted: int
    joined_while_offer_open: int
    staff_came: int


class OutreachView(BaseModel):
    """The outreach of one list year: every listed municipality (``items`` filtered by
    ``status`` when asked; ``totals`` always of all)."""

    model_config = examples(
        {
            "network_slug": "knub",
            "list_date": "2021-12-01",
            "revision": 1,
            "partial": True,
            "year": 2022,
            "offer_meeting": _OFFER,
            "totals": _TOTALS,
            "items": [_ROW],
        }
    )

    network_slug: str
    list_date: date
    revision: int
    partial: bool
    year: int = Field(description="The coming year: the membership year invited to.")
    offer_meeting: OfferMeetingView | None
    totals: OutreachTotals
    items: list[OutreachRowView]

    @classmethod
    def of(cls, report: OutreachReport, status: Status | None) -> OutreachView:
        offer = report.offer_meeting
        return cls(
            network_slug=report.network_slug,
            list_date=report.area_list.list_date,
            revision=report.area_list.revision,
            partial=report.area_list.partial,
            year=report.year,
            offer_meeting=None if offer is None else OfferMeetingView.of(offer),
            totals=OutreachTotals.model_validate(report.totals()),
            items=[
                OutreachRowView.of(r)
                for r in report.rows
                if status is None or r.status.value == status
            ],
        )


_MEMBERS: dict[str, Any] = {
    "year": 2022,
    "members": 3,
    "new": 1,
    "renewed": 1,
    "through_offer": 1,
    "cancelled": 0,
}
_MEETING: dict[str, Any] = {
    "meeting_id": "meeting-knub-2021-3",
    "title": "3. netværksmøde 2021",
    "year": 2021,
    "starts_at": "2021-12-08T09:30:00+01:00",
    "seats": 80,
    "confirmed": 5,
    "waiting": 0,
    "promoted": 0,
    "cancelled": 1,
    "with_offer": 1,
    "attended": 4,
    "no_shows": 1,
    "no_show_rate": 0.2,
}
_COVERAGE: dict[str, Any] = {
    "list_date": "2021-12-01",
    "year": 2022,
    "category": "parallelsamfund",
    "listed": 10,
    "members": 4,
    "share": 0.4,
}


class MembersOfYearView(BaseModel):
    model_config = examples(_MEMBERS)

    year: int
    members: int = Field(description="Active members: new + renewed + through_offer.")
    new: int
    renewed: int
    through_offer: int = Field(description="New members that joined while the offer was open.")
    cancelled: int


class MeetingFiguresView(BaseModel):
    model_config = examples(_MEETING)

    meeting_id: str
    title: str
    year: int
    starts_at: datetime
    seats: int
    confirmed: int
    waiting: int
    promoted: int
    cancelled: int
    with_offer: int = Field(description="Registrations on the offer (not cancelled).")
    attended: int
    no_shows: int
    no_show_rate: float | None = Field(
        description="No-shows over the registrations whose attendance was recorded."
    )


class CoverageView(BaseModel):
    model_config = examples(_COVERAGE)

    list_date: date
    year: int = Field(description="The membership year counted.")
    category: str = Field(description="A category, or 'alle' for every listed municipality.")
    listed: int
    members: int
    share: float | None


class StatisticsView(BaseModel):
    """The network's own statistics (no personal data)."""

    model_config = examples(
        {
            "network_slug": "knub",
            "members": [_MEMBERS],
            "meetings": [_MEETING],
            "coverage": [_COVERAGE],
        }
    )

    network_slug: str
    members: list[MembersOfYearView]
    meetings: list[MeetingFiguresView]
    coverage: list[CoverageView]

    @classmethod
    def of(cls, s: Statistics) -> StatisticsView:
        return cls(
            network_slug=s.network_slug,
            members=[MembersOfYearView.model_validate(m, from_attributes=True) for m in s.members],
            meetings=[
                MeetingFiguresView.model_validate(m, from_attributes=True) for m in s.meetings
            ],
            coverage=[CoverageView.model_validate(c, from_attributes=True) for c in s.coverage],
        )
