"""The outreach API's models for the lists and the invitations, each with an example.

Nothing here names a person: the contact addresses of an invitation request go into the
sealed event, never into an answer. (The outreach's and the statistics' views:
``statistics_schemas.py``.)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, EmailStr, Field

from services.kernel.examples import examples
from services.kernel.http import CleanText
from services.membership.domain.area_lists import CATEGORY_NAMES, AreaList, ListedArea
from services.membership.domain.invitations import Invitation
from services.membership.service_layer.invitations import InvitationsOutcome

Outcome = Literal["invited", "reminded", "already_invited", "member", "cancelled_member"]

AREA_EXAMPLE: dict[str, Any] = {
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
    "rows": 39,
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


class ListedAreaView(BaseModel):
    """One area on one list (an area on several lists has several rows)."""

    model_config = examples(AREA_EXAMPLE)

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

    model_config = examples(_SUMMARY)

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
    model_config = examples({"total": 1, "items": [_SUMMARY]})

    total: int
    items: list[AreaListSummary]


class AreaListView(AreaListSummary):
    """A list with all its rows."""

    model_config = examples({**_SUMMARY, "items": [AREA_EXAMPLE]})

    items: list[ListedAreaView]

    @classmethod
    def of(cls, a: AreaList) -> AreaListView:
        return cls.model_validate(
            {**cls.fields_of(a), "items": [ListedAreaView.of(r) for r in a.rows]}
        )


class AreaListImported(AreaListSummary):
    """The list after an import: ``changed`` False when it was the same list again."""

    model_config = examples({**_SUMMARY, "changed": True})

    changed: bool


class MunicipalityAreaList(BaseModel):
    model_config = examples({"list_date": "2021-12-01", "partial": True, "items": [AREA_EXAMPLE]})

    list_date: date
    partial: bool
    items: list[ListedAreaView]


class MunicipalityAreas(BaseModel):
    """A municipality's areas on the lists, newest list first (public data)."""

    model_config = examples(
        {
            "municipality_code": "461",
            "lists": [{"list_date": "2021-12-01", "partial": True, "items": [AREA_EXAMPLE]}],
        }
    )

    municipality_code: str
    lists: list[MunicipalityAreaList]


class InvitationView(BaseModel):
    """An invitation, without its contact (that stays sealed)."""

    model_config = examples(_INVITATION)

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
    model_config = examples({"total": 1, "items": [_INVITATION]})

    total: int
    items: list[InvitationView]


class InvitationEntry(BaseModel):
    """A municipality to invite, and the address the invitation goes to."""

    model_config = examples(
        {
            "municipality_code": "461",
            "contact_email": "boligsocial@odense.example.dk",
            "contact_name": "Sara Lund",
        },
        extra="forbid",
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

    model_config = examples(
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
        },
        extra="forbid",
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
    model_config = examples(
        {"municipality_code": "461", "municipality_name": "Odense", "outcome": "invited"}
    )

    municipality_code: str
    municipality_name: str
    outcome: Outcome


class InvitationsAnswer(BaseModel):
    """What the request came to, per municipality (no addresses)."""

    model_config = examples(
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
