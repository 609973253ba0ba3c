"""Events of the outreach: the yearly lists of housing areas, and invitations to join.

Published by the membership service, which owns which municipalities a network is for.

- Topic ``kl.membership.area-lists``, key = ``area-list-<list date>``: every import that
  changes the list of a date is one :class:`AreaListPublished` carrying the WHOLE list, with
  the next ``revision``; a later list for the same date replaces the earlier one. Importing
  the same list again publishes nothing.
- Topic ``kl.membership.invitations``, key = ``invitation-<network>-<year>-<code>``: one
  :class:`MunicipalityInvited` per municipality, network and year, then an
  :class:`InvitationReminded` for each reminder an operator asked for. The contact address
  the operator gave travels sealed (crypto-shredding, see docs/privacy.md).

The lists are public data: areas, categories and municipalities, nothing personal.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import EventPayload, registry

AREA_LIST_TOPIC = "kl.membership.area-lists"
INVITATION_TOPIC = "kl.membership.invitations"

Category = Literal["udsat", "parallelsamfund", "omdannelsesomraade", "forebyggelsesomraade"]
"""The categories of the lists from 1 December 2021: udsat boligområde, parallelsamfund
(until 2021 "ghettoområde"), omdannelsesområde (until 2021 "hårdt ghettoområde") and
forebyggelsesområde (new on 1 December 2021)."""


class ListedArea(BaseModel):
    """One area on one list, in one category (an area on several lists has several rows)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    category: Category = Field(description="The list the area is on.", examples=["udsat"])
    area: str = Field(description="The area's name.", examples=["Vollsmose"])
    municipality_code: str = Field(
        description="Official three-digit municipality code.", examples=["461"], pattern=r"^\d{3}$"
    )
    municipality_name: str = Field(description="Municipality name.", examples=["Odense"])


@registry.register
class AreaListPublished(EventPayload):
    """An operator imported the lists of housing areas of one date (1 December of a year)."""

    event_name: ClassVar[str] = "dk.kl.membership.area_list_published"
    topic: ClassVar[str] = AREA_LIST_TOPIC

    list_date: date = Field(
        description="The date of the lists: always 1 December.", examples=["2021-12-01"]
    )
    revision: int = Field(
        ge=1,
        description="1 for the first list of this date; a later import that changes it "
        "publishes the whole list again with the next revision, which replaces the earlier.",
        examples=[1],
    )
    partial: bool = Field(
        default=False,
        description="True when the list is known to hold only part of the official lists.",
        examples=[True],
    )
    rows: list[ListedArea] = Field(description="Every area of the lists, one row per category.")
    occurred_at: datetime = Field(
        description="When it was imported, on the service's clock.",
        examples=["2021-12-02T10:00:00+01:00"],
    )


class InvitedArea(BaseModel):
    """One of the municipality's listed areas, as its invitation names it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    category: Category = Field(examples=["parallelsamfund"])
    area: str = Field(examples=["Vollsmose"])


class _InvitationEvent(EventPayload):
    topic: ClassVar[str] = INVITATION_TOPIC

    invitation_id: str = Field(
        description="Stream id: one invitation per network, membership year and municipality.",
        examples=["invitation-knub-2022-461"],
    )
    network_slug: str = Field(description="The network invited to.", examples=["knub"])
    year: int = Field(description="The membership year invited to.", examples=[2022])
    list_date: date = Field(
        description="The lists the municipality is on (the reason for the invitation).",
        examples=["2021-12-01"],
    )
    municipality_code: str = Field(
        description="Official three-digit municipality code.", examples=["461"], pattern=r"^\d{3}$"
    )
    municipality_name: str = Field(description="Municipality name.", examples=["Odense"])
    areas: list[InvitedArea] = Field(description="The municipality's areas on the lists.")
    meeting_id: str | None = Field(
        default=None,
        description="The meeting of the offer (next year's members attend free while seats "
        "last), if one was open when the invitation was made.",
        examples=["meeting-knub-2021-3"],
    )
    contact_person_id: str = Field(
        description="The contact's random id in the key vault.",
        examples=["person-3f0c9a1e2b7d4c6a8e5f1a2b3c4d5e6f"],
    )
    contact_sealed: str = Field(
        description="The contact address and name the operator gave, sealed with the "
        'person\'s key ({"name": ..., "email": ...}); cannot be opened once they are erased.',
        examples=["v1.kq3b0Yc2d3N0cmluZy1ub3QtcmVhbC1leGFtcGxl"],
    )
    occurred_at: datetime = Field(
        description="When it happened, on the service's clock.",
        examples=["2021-12-02T10:00:00+01:00"],
    )


@registry.register
class MunicipalityInvited(_InvitationEvent):
    """KL invited a municipality with listed areas to join a network for a year."""

    event_name: ClassVar[str] = "dk.kl.membership.municipality_invited"


@registry.register
class InvitationReminded(_InvitationEvent):
    """An operator asked for a reminder of an invitation: it is sent again."""

    event_name: ClassVar[str] = "dk.kl.membership.invitation_reminded"

    reminder: int = Field(ge=1, description="1 for the first reminder, then 2 ...", examples=[1])
