"""Events of the membership service: municipalities joining networks for a calendar year.

Topic ``kl.membership.memberships``, key = membership id (one stream per municipality,
network and year: ``membership-<network>-<year>-<municipality code>``).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import EmailStr, Field

from contracts.base import EventPayload, registry

MEMBERSHIP_TOPIC = "kl.membership.memberships"
NETWORK_TOPIC = "kl.membership.networks"


class _MembershipEvent(EventPayload):
    topic: ClassVar[str] = MEMBERSHIP_TOPIC

    membership_id: str = Field(
        description="Stream id of the membership: one per municipality, network and year.",
        examples=["membership-knub-2022-101"],
    )
    network_slug: str = Field(description="The network's slug.", examples=["knub"])
    municipality_code: str = Field(
        description="Official three-digit municipality code.",
        examples=["101"],
        pattern=r"^\d{3}$",
    )
    year: int = Field(description="Calendar year of the membership.", examples=[2022])
    occurred_at: datetime = Field(
        description="When it happened, on the service's clock (may be a configured date).",
        examples=["2021-11-19T10:00:00+01:00"],
    )


@registry.register
class MembershipJoined(_MembershipEvent):
    """A municipality joined a network for a calendar year."""

    major: ClassVar[int] = 2

    event_name: ClassVar[str] = "dk.kl.membership.joined"

    municipality_name: str = Field(description="Municipality name.", examples=["København"])
    contact_person_id: str = Field(
        description="The contact person's random id in the key vault.",
        examples=["person-3f0c9a1e2b7d4c6a8e5f1a2b3c4d5e6f"],
    )
    contact_sealed: str = Field(
        description="The contact person's name and e-mail, sealed with the person's key "
        '({"name": ..., "email": ...}); cannot be opened once they are erased.',
        examples=["v1.kq3b0Yc2d3N0cmluZy1ub3QtcmVhbC1leGFtcGxl"],
    )
    ean: str = Field(
        description="EAN location number for invoicing (13 digits).",
        examples=["5798000000001"],
        pattern=r"^\d{13}$",
    )
    fee_dkk: int = Field(description="Yearly fee in whole DKK, for invoicing.", examples=[7500])


@registry.register
class MembershipCancelled(_MembershipEvent):
    """A membership was cancelled."""

    event_name: ClassVar[str] = "dk.kl.membership.cancelled"

    reason: str = Field(description="Why it was cancelled.", examples=["Budgetnedskæringer"])


@registry.register
class MembershipRenewed(_MembershipEvent):
    """A membership was renewed: this event opens the new year's membership stream."""

    major: ClassVar[int] = 2

    event_name: ClassVar[str] = "dk.kl.membership.renewed"

    renewed_from: str = Field(
        description="Membership id of the previous year.", examples=["membership-knub-2021-101"]
    )
    municipality_name: str = Field(description="Municipality name.", examples=["København"])
    contact_person_id: str = Field(
        description="The contact person's random id in the key vault.",
        examples=["person-3f0c9a1e2b7d4c6a8e5f1a2b3c4d5e6f"],
    )
    contact_sealed: str = Field(
        description="The contact person's name and e-mail, sealed with the person's key "
        '({"name": ..., "email": ...}); cannot be opened once they are erased.',
        examples=["v1.kq3b0Yc2d3N0cmluZy1ub3QtcmVhbC1leGFtcGxl"],
    )
    ean: str = Field(description="EAN location number.", examples=["5798000000001"])
    fee_dkk: int = Field(description="Yearly fee in whole DKK.", examples=[7500])


@registry.register
class MembershipContactChanged(_MembershipEvent):
    """The membership's contact person changed."""

    major: ClassVar[int] = 2

    event_name: ClassVar[str] = "dk.kl.membership.contact_changed"

    contact_person_id: str = Field(
        description="The contact person's random id in the key vault.",
        examples=["person-3f0c9a1e2b7d4c6a8e5f1a2b3c4d5e6f"],
    )
    contact_sealed: str = Field(
        description="The contact person's name and e-mail, sealed with the person's key "
        '({"name": ..., "email": ...}); cannot be opened once they are erased.',
        examples=["v1.kq3b0Yc2d3N0cmluZy1ub3QtcmVhbC1leGFtcGxl"],
    )


@registry.register
class NetworkCreated(EventPayload):
    """An operator created a network (KNUB is seeded)."""

    event_name: ClassVar[str] = "dk.kl.membership.network_created"
    topic: ClassVar[str] = NETWORK_TOPIC

    slug: str = Field(description="Short id.", examples=["knub"], pattern=r"^[a-z0-9-]{2,40}$")
    name: str = Field(
        description="Danish name.", examples=["Kommunernes Netværk for Udsatte Boligområder"]
    )
    description: str = Field(description="Danish description.", examples=["Et netværk for ..."])
    yearly_fee_dkk: int = Field(description="Yearly fee in whole DKK.", examples=[7500])
    occurred_at: datetime = Field(description="When it was created.")


# --- v1: retired (the contact person travelled in clear) --------------------------------


@registry.register
class MembershipJoinedV1(_MembershipEvent):
    """Retired (the contact person in clear): see the v2 event."""

    retired: ClassVar[bool] = True

    event_name: ClassVar[str] = "dk.kl.membership.joined"

    municipality_name: str = Field(description="Municipality name.", examples=["København"])
    contact_name: str = Field(description="Contact person's name.", examples=["Mette Hansen"])
    contact_email: EmailStr = Field(
        description="Contact person's e-mail.", examples=["mette.hansen@kk.dk"]
    )
    ean: str = Field(
        description="EAN location number for invoicing (13 digits).",
        examples=["5798000000001"],
        pattern=r"^\d{13}$",
    )
    fee_dkk: int = Field(description="Yearly fee in whole DKK, for invoicing.", examples=[7500])


@registry.register
class MembershipRenewedV1(_MembershipEvent):
    """Retired (the contact person in clear): see the v2 event."""

    retired: ClassVar[bool] = True

    event_name: ClassVar[str] = "dk.kl.membership.renewed"

    renewed_from: str = Field(
        description="Membership id of the previous year.", examples=["membership-knub-2021-101"]
    )
    municipality_name: str = Field(description="Municipality name.", examples=["København"])
    contact_name: str = Field(description="Contact person's name.", examples=["Mette Hansen"])
    contact_email: EmailStr = Field(
        description="Contact person's e-mail.", examples=["mette.hansen@kk.dk"]
    )
    ean: str = Field(description="EAN location number.", examples=["5798000000001"])
    fee_dkk: int = Field(description="Yearly fee in whole DKK.", examples=[7500])


@registry.register
class MembershipContactChangedV1(_MembershipEvent):
    """Retired (the contact person in clear): see the v2 event."""

    retired: ClassVar[bool] = True

    event_name: ClassVar[str] = "dk.kl.membership.contact_changed"

    contact_name: str = Field(description="New contact person's name.", examples=["Jens Nielsen"])
    contact_email: EmailStr = Field(
        description="New contact person's e-mail.", examples=["jens.nielsen@kk.dk"]
    )
