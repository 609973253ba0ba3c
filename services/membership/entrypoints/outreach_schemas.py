"""The outreach API's request and response models, each with an example for the OpenAPI page.

Nothing here names a person: the contact addresses of an invitation request go into the
sealed event, never into an answer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.kernel.http import CleanText
from services.membership.domain.area_lists import CATEGORY_NAMES, AreaList, ListedArea
from services.membership.domain.invitations import Invitation
from services.membership.domain.outreach import OfferMeeting, OutreachReport, OutreachRow
from services.membership.domain.statistics import Statistics
from services.membership.service_layer.invitations import InvitationsOutcome

Outcome = Literal["invited", "reminded", "already_invited", "member", "cancelled_member"]
Status = Literal["not_invited", "invited", "joined"]

_AREA: dict[str, Any] = {
    "category": "parallelsamfund",
    "category_name": "parallelsamfund",
    "area": "Vollsmose",
    "municipality_code": "461",
    "municipality_name": "Odense",
}
_SUMMARY: dict[str, Any] = {
    "list_date": "2021-12-01",
    "revision": 1,
    "partial": True,
    "imported_at": "2021-12-02T10:00:00+01:00",
    "rows": 37,
    "municipalities": 12,
    "areas_per_category": {"udsat": 14, "parallelsamfund": 12},
}
_INVITATION: dict[str, Any] = {
    "invitation_id": "invitation-knub-2022-461",
    "network_slug": "knub",
    "year": 2022,
    "list_date": "2021-12-01",
    "municipality_code": "461",
    "meeting_id": "meeting-knub-2021-3",
    "invited_at": "2021-12-02T10:00:00+01:00",
    "reminders": 0,
    "last_reminded_at": None,
}


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


class ListedAreaView(BaseModel):
    """One area on one list (an area on several lists has several rows)."""

    model_config = _example(_AREA)

    category: str
    category_name: str = Field(description="The category's Danish name.")
    area: str
    municipality_code: str
    municipality_name: str

    @classmethod
    def of(cls, a: ListedArea) -> ListedAreaView:
        return cls(
            category=a.category.value,
            category_name=CATEGORY_NAMES[a.category],
            area=a.area,
            municipality_code=a.municipality_code,
            municipality_name=a.municipality_name,
        )


class AreaListSummary(BaseModel):
    """A list of one date, in its latest revision."""

    model_config = _example(_SUMMARY)

    list_date: date
    revision: int
    partial: bool = Field(description="Known to hold only part of the official lists.")
    imported_at: datetime
    rows: int
    municipalities: int
    areas_per_category: dict[str, int]

    @classmethod
    def fields_of(cls, a: AreaList) -> dict[str, object]:
        per: dict[str, int] = {}
        for row in a.rows:
            per[row.category.value] = per.get(row.category.value, 0) + 1
        return {
            "list_date": a.list_date,
            "revision": a.revision,
            "partial": a.partial,
            "imported_at": a.imported_at,
            "rows": len(a.rows),
            "municipalities": len(a.municipality_codes),
            "areas_per_category": per,
        }

    @classmethod
    def of(cls, a: AreaList) -> AreaListSummary:
        return cls.model_validate(cls.fields_of(a))


class AreaListSummaries(BaseModel):
    model_config = _example({"total": 1, "items": [_SUMMARY]})

    total: int
    items: list[AreaListSummary]


class AreaListView(AreaListSummary):
    """A list with all its rows."""

    model_config = _example({**_SUMMARY, "items": [_AREA]})

    items: list[ListedAreaView]

    @classmethod
    def of(cls, a: AreaList) -> AreaListView:
        return cls.model_validate(
            {**cls.fields_of(a), "items": [ListedAreaView.of(r) for r in a.rows]}
        )


class AreaListImported(AreaListSummary):
    """The list after an import: ``changed`` False when it was the same list again."""

    model_config = _example({**_SUMMARY, "changed": True})

    changed: bool


class MunicipalityAreaList(BaseModel):
    model_config = _example({"list_date": "2021-12-01", "partial": True, "items": [_AREA]})

    list_date: date
    partial: bool
    items: list[ListedAreaView]


class MunicipalityAreas(BaseModel):
    """A municipality's areas on the lists, newest list first (public data)."""

    model_config = _example(
        {
            "municipality_code": "461",
            "lists": [{"list_date": "2021-12-01", "partial": True, "items": [_AREA]}],
        }
    )

    municipality_code: str
    lists: list[MunicipalityAreaList]


class InvitationView(BaseModel):
    """An invitation, without its contact (that stays sealed)."""

    model_config = _example(_INVITATION)

    invitation_id: str
    network_slug: str
    year: int
    list_date: date
    municipality_code: str
    meeting_id: str | None
    invited_at: datetime
    reminders: int
    last_reminded_at: datetime | None

    @classmethod
    def of(cls, i: Invitation) -> InvitationView:
        return cls.model_validate(i, from_attributes=True)


class InvitationList(BaseModel):
    model_config = _example({"total": 1, "items": [_INVITATION]})

    total: int
    items: list[InvitationView]


class InvitationEntry(BaseModel):
    """A municipality to invite, and the address the invitation goes to."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "municipality_code": "461",
                    "contact_email": "boligsocial@odense.example.dk",
                    "contact_name": "Sara Lund",
                }
            ]
        },
    )

    municipality_code: str = Field(pattern=r"^\d{3}$", examples=["461"])
    contact_email: EmailStr = Field(
        description="Where the invitation goes: given by the operator, never guessed.",
        examples=["boligsocial@odense.example.dk"],
    )
    contact_name: CleanText | None = Field(
        default=None, max_length=200, description="Whom to greet; optional.", examples=["Sara"]
    )


class InvitationsRequest(BaseModel):
    """Invite listed municipalities (each once; again only as a reminder)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "list_date": "2021-12-01",
                    "meeting_id": "meeting-knub-2021-3",
                    "reminder": False,
                    "invitations": [
                        {
                            "municipality_code": "461",
                            "contact_email": "boligsocial@odense.example.dk",
                        }
                    ],
                }
            ]
        },
    )

    list_date: date = Field(description="The lists the municipalities are on.")
    meeting_id: str | None = Field(
        default=None,
        max_length=100,
        description="The meeting of the offer; without one, the network's open offer of the "
        "list's year, if any.",
    )
    reminder: bool = Field(
        default=False, description="Send again to those invited already (a reminder)."
    )
    invitations: list[InvitationEntry] = Field(min_length=1, max_length=98)


class InvitationResultView(BaseModel):
    model_config = _example(
        {"municipality_code": "461", "municipality_name": "Odense", "outcome": "invited"}
    )

    municipality_code: str
    municipality_name: str
    outcome: Outcome


class InvitationsAnswer(BaseModel):
    """What the request came to, per municipality (no addresses)."""

    model_config = _example(
        {
            "network_slug": "knub",
            "year": 2022,
            "list_date": "2021-12-01",
            "meeting_id": "meeting-knub-2021-3",
            "sent": 1,
            "results": [
                {"municipality_code": "461", "municipality_name": "Odense", "outcome": "invited"}
            ],
        }
    )

    network_slug: str
    year: int
    list_date: date
    meeting_id: str | None
    sent: int = Field(description="Invitations and reminders made now (one mail each).")
    results: list[InvitationResultView]

    @classmethod
    def of(cls, o: InvitationsOutcome) -> InvitationsAnswer:
        results = [
            InvitationResultView(
                municipality_code=r.municipality_code,
                municipality_name=r.municipality_name,
                outcome=r.outcome.value,
            )
            for r in o.results
        ]
        return cls(
            network_slug=o.network_slug,
            year=o.year,
            list_date=o.list_date,
            meeting_id=o.meeting.meeting_id if o.meeting is not None else None,
            sent=sum(r.outcome in ("invited", "reminded") for r in results),
            results=results,
        )


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
    "areas": [_AREA],
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
    model_config = _example(_OFFER)

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

    model_config = _example(_ROW)

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
    model_config = _example(_TOTALS)

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

    model_config = _example(
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
    model_config = _example(_MEMBERS)

    year: int
    members: int = Field(description="Active members: new + renewed + through_offer.")
    new: int
    renewed: int
    through_offer: int = Field(description="New members that joined while the offer was open.")
    cancelled: int


class MeetingFiguresView(BaseModel):
    model_config = _example(_MEETING)

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
    model_config = _example(_COVERAGE)

    list_date: date
    year: int = Field(description="The membership year counted.")
    category: str = Field(description="A category, or 'alle' for every listed municipality.")
    listed: int
    members: int
    share: float | None


class StatisticsView(BaseModel):
    """The network's own statistics (no personal data)."""

    model_config = _example(
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
