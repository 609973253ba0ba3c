"""The HTTP API's request and response models, each with an example for the OpenAPI page."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.kernel.examples import examples
from services.kernel.http import CleanText
from services.membership.adapters.roster import RosterRow
from services.membership.domain.model import Membership, Network
from services.membership.domain.municipalities import Municipality

MEMBERSHIP_ID_PATTERN = r"^membership-[a-z0-9-]{2,40}-\d{4}-\d{3}$"
SLUG_PATTERN = r"^[a-z0-9-]{2,40}$"

_EXAMPLE_ID = "membership-knub-2022-101"


class Problem(BaseModel):
    """An RFC 9457 problem: Danish ``detail`` first, English ``detail_en`` beside it."""

    model_config = examples(
        {
            "type": "urn:kl:problem:invalid-ean",
            "title": "Ugyldigt EAN-nummer",
            "status": 422,
            "detail": "EAN-nummeret 5798000000002 er ikke gyldigt ...",
            "detail_en": "The EAN number 5798000000002 is not valid ...",
        }
    )

    type: str
    title: str
    status: int
    detail: str
    detail_en: str | None = None


class JoinRequest(BaseModel):
    """Sign a municipality up for a network for one calendar year."""

    model_config = examples(
        {
            "municipality_code": "101",
            "year": 2022,
            "contact_name": "Mette Hansen",
            "contact_email": "mette.hansen@kk.dk",
            "ean": "5798000000001",
        },
        extra="forbid",
    )

    municipality_code: str = Field(
        description="Official three-digit municipality code (see GET /municipalities).",
        examples=["101"],
        max_length=10,
    )
    year: int = Field(
        description="Calendar year of the membership.", examples=[2022], ge=1900, le=2999
    )
    contact_name: CleanText = Field(
        description="Contact person.", examples=["Mette Hansen"], min_length=1, max_length=200
    )
    contact_email: EmailStr = Field(
        description="Contact person's e-mail.", examples=["mette.hansen@kk.dk"]
    )
    ean: str = Field(
        description="EAN location number for the invoice: 13 digits, GS1 check digit last.",
        examples=["5798000000001"],
        max_length=20,
    )


class CancelRequest(BaseModel):
    """Cancel a membership."""

    model_config = examples({"reason": "Budgetnedskæringer"}, extra="forbid")

    reason: CleanText = Field(
        description="Why the membership is cancelled.",
        examples=["Budgetnedskæringer"],
        min_length=1,
        max_length=500,
    )


class ContactRequest(BaseModel):
    """A new contact person for a membership."""

    model_config = examples(
        {"contact_name": "Jens Nielsen", "contact_email": "jens.nielsen@kk.dk"}, extra="forbid"
    )

    contact_name: CleanText = Field(examples=["Jens Nielsen"], min_length=1, max_length=200)
    contact_email: EmailStr = Field(examples=["jens.nielsen@kk.dk"])


class NetworkRequest(BaseModel):
    """Create a network."""

    model_config = examples(
        {
            "slug": "klimanet",
            "name": "Kommunernes Klimanetværk",
            "description": "Et netværk for kommunale klimakoordinatorer.",
            "yearly_fee_dkk": 5000,
        },
        extra="forbid",
    )

    slug: str = Field(
        description="Short id, lowercase.", examples=["klimanet"], pattern=SLUG_PATTERN
    )
    name: CleanText = Field(
        description="Danish name.",
        examples=["Kommunernes Klimanetværk"],
        min_length=1,
        max_length=200,
    )
    description: CleanText = Field(
        description="Danish description.",
        examples=["Et netværk for kommunale klimakoordinatorer."],
        min_length=1,
        max_length=5000,
    )
    yearly_fee_dkk: int = Field(
        description="Yearly fee, whole DKK.", examples=[5000], ge=0, le=10_000_000
    )


_MEMBERSHIP_EXAMPLE: dict[str, Any] = {
    "membership_id": _EXAMPLE_ID,
    "network_slug": "knub",
    "municipality_code": "101",
    "municipality_name": "København",
    "year": 2022,
    "status": "active",
    "contact_name": "Mette Hansen",
    "contact_email": "mette.hansen@kk.dk",
    "ean": "5798000000001",
    "fee_dkk": 7500,
    "joined_at": "2021-11-19T10:00:00+01:00",
    "renewed_from": None,
    "cancelled_at": None,
    "cancel_reason": None,
}


def _membership_example(*names: str) -> ConfigDict:
    """The example membership, or the named fields of it."""
    example = {n: _MEMBERSHIP_EXAMPLE[n] for n in names} if names else _MEMBERSHIP_EXAMPLE
    return examples(example)


class MembershipView(BaseModel):
    """A membership as its stream says now (read from the event store)."""

    model_config = _membership_example()

    membership_id: str
    network_slug: str
    municipality_code: str
    municipality_name: str
    year: int
    status: Literal["active", "cancelled"]
    contact_name: str
    contact_email: str
    ean: str
    fee_dkk: int
    joined_at: datetime
    renewed_from: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    @classmethod
    def of(cls, m: Membership) -> MembershipView:
        values = {f.name: getattr(m, f.name) for f in dataclasses.fields(m) if f.name != "contact"}
        values.update(
            status=m.status.value, contact_name=m.contact.name, contact_email=m.contact.email
        )
        return cls(**values)


class MembershipStatusView(BaseModel):
    """Whether a municipality is a member of a network in a year (no personal data)."""

    model_config = _membership_example(
        "membership_id", "network_slug", "year", "municipality_code", "status"
    )

    membership_id: str
    network_slug: str
    year: int
    municipality_code: str
    status: Literal["active", "cancelled"]


class NetworkView(BaseModel):
    """A network."""

    model_config = examples(
        {
            "slug": "knub",
            "name": "Kommunernes Netværk for Udsatte Boligområder",
            "description": "Et netværk for kommunale medarbejdere ...",
            "yearly_fee_dkk": 7500,
            "created_at": "2020-01-01T00:00:00+00:00",
        }
    )

    slug: str
    name: str
    description: str
    yearly_fee_dkk: int
    created_at: datetime

    @classmethod
    def of(cls, n: Network) -> NetworkView:
        return cls(
            slug=n.slug,
            name=n.name,
            description=n.description,
            yearly_fee_dkk=n.yearly_fee_dkk,
            created_at=n.created_at,
        )


class NetworkList(BaseModel):
    model_config = examples({"total": 1, "items": [NetworkView.model_json_schema()["examples"][0]]})

    total: int
    items: list[NetworkView]


class MunicipalityView(BaseModel):
    """A municipality: official code, name and region."""

    model_config = examples({"code": "101", "name": "København", "region": "Hovedstaden"})

    code: str
    name: str
    region: str

    @classmethod
    def of(cls, m: Municipality) -> MunicipalityView:
        return cls(code=m.code, name=m.name, region=m.region.value)


class MunicipalityList(BaseModel):
    model_config = examples(
        {
            "total": 98,
            "items": [{"code": "101", "name": "København", "region": "Hovedstaden"}],
        }
    )

    total: int
    items: list[MunicipalityView]


class RosterEntry(BaseModel):
    """One membership in the roster read model (no personal data)."""

    model_config = _membership_example(
        "membership_id",
        "network_slug",
        "year",
        "municipality_code",
        "municipality_name",
        "status",
        "fee_dkk",
        "renewed_from",
        "joined_at",
        "cancelled_at",
    )

    membership_id: str
    network_slug: str
    year: int
    municipality_code: str
    municipality_name: str
    status: Literal["active", "cancelled"]
    fee_dkk: int
    renewed_from: str | None
    joined_at: datetime
    cancelled_at: datetime | None

    @classmethod
    def of(cls, r: RosterRow) -> RosterEntry:
        return cls.model_validate(r, from_attributes=True)


class RosterPage(BaseModel):
    """A page of memberships, with the total across all pages."""

    model_config = examples(
        {
            "total": 1,
            "limit": 50,
            "offset": 0,
            "items": [RosterEntry.model_json_schema()["examples"][0]],
        }
    )

    total: int = Field(description="How many match, across all pages.")
    limit: int
    offset: int
    items: list[RosterEntry]
