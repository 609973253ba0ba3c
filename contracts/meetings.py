"""Events of the events service: network meetings, their seats and registrations.

Topic ``kl.events.meetings``, key = meeting id. A meeting and all its registrations are one
stream, so every seat decision for a meeting is serialised and its events keep their order.
Times are ISO 8601 with offset; the meeting's local time zone is Europe/Copenhagen.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from contracts.base import EventPayload, registry

MEETING_TOPIC = "kl.events.meetings"


class Participant(BaseModel):
    """The person who registers, in clear (v1 events only, retired). Never logged."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(description="Full name.", examples=["Anne Jensen"])
    email: EmailStr = Field(description="E-mail.", examples=["anne.jensen@aarhus.dk"])
    job_title: str = Field(description="Job title.", examples=["Boligsocial koordinator"])
    municipality_code: str = Field(
        description="Official three-digit municipality code.", examples=["751"], pattern=r"^\d{3}$"
    )
    note: str | None = Field(
        default=None, description="Diet or access needs.", examples=["Vegetar"]
    )


class SealedParticipant(BaseModel):
    """The person who registers, with the personal data sealed (crypto-shredding).

    ``sealed`` holds name, e-mail, job title and note, encrypted with the person's own data
    key (see docs/privacy.md). Once the person is erased the key is gone and ``sealed``
    can no longer be opened by anyone; the rest of the event stays true.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    person_id: str = Field(
        description="Random id of the person in the key vault (not derived from the e-mail).",
        examples=["person-3f0c9a1e2b7d4c6a8e5f1a2b3c4d5e6f"],
    )
    municipality_code: str = Field(
        description="Official three-digit municipality code.", examples=["751"], pattern=r"^\d{3}$"
    )
    sealed: str = Field(
        description="Sealed personal fields (name, email, job_title, note): "
        "``v1.<base64url(nonce | AES-256-GCM ciphertext)>``, person id as associated data.",
        examples=["v1.kq3b0Yc2d3N0cmluZy1ub3QtcmVhbC1leGFtcGxl"],
    )


class AgendaItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    starts_at: datetime = Field(description="Start of the item.")
    title: str = Field(description="Title of the item.", examples=["Velkomst"])
    speaker: str | None = Field(default=None, description="Speaker.", examples=["KL"])


class _MeetingEvent(EventPayload):
    topic: ClassVar[str] = MEETING_TOPIC

    meeting_id: str = Field(
        description="Stream id of the meeting.", examples=["meeting-knub-2021-3"]
    )
    occurred_at: datetime = Field(description="When it happened, on the service's clock.")


@registry.register
class MeetingScheduled(_MeetingEvent):
    """A meeting of a network was scheduled."""

    event_name: ClassVar[str] = "dk.kl.events.meeting_scheduled"

    network_slug: str = Field(examples=["knub"])
    year: int = Field(description="The membership year the meeting belongs to.", examples=[2021])
    title: str = Field(examples=["3. netværksmøde 2021"])
    description: str = Field(examples=["Systematisering af anvisning og udlejning"])
    starts_at: datetime
    ends_at: datetime
    venue_name: str = Field(examples=["KL-huset"])
    venue_address: str = Field(examples=["Weidekampsgade 10, 2300 København S"])
    seats: int = Field(ge=0, examples=[80])
    registration_deadline: datetime
    per_municipality_cap: int | None = Field(default=None, ge=1, examples=[3])
    guest_price_dkk: int | None = Field(
        default=None, ge=0, description="None: members only (and the offer, if marked)."
    )
    next_year_members_free: bool = Field(
        default=False, description="The offer: next year's members attend free while seats last."
    )


@registry.register
class MeetingProgramPublished(_MeetingEvent):
    """The meeting's program was published or changed (the whole program)."""

    event_name: ClassVar[str] = "dk.kl.events.program_published"

    items: list[AgendaItem]


@registry.register
class MeetingRescheduled(_MeetingEvent):
    """The meeting moved in time or place."""

    event_name: ClassVar[str] = "dk.kl.events.meeting_rescheduled"

    starts_at: datetime
    ends_at: datetime
    registration_deadline: datetime
    venue_name: str
    venue_address: str


@registry.register
class MeetingSeatsChanged(_MeetingEvent):
    """The number of seats was raised or lowered."""

    event_name: ClassVar[str] = "dk.kl.events.seats_changed"

    seats: int = Field(ge=0)


@registry.register
class MeetingOfferChanged(_MeetingEvent):
    """The offer "next year's members attend free" was put on or taken off the meeting."""

    event_name: ClassVar[str] = "dk.kl.events.offer_changed"

    next_year_members_free: bool


@registry.register
class MeetingCancelled(_MeetingEvent):
    """The meeting was cancelled; every registration with it."""

    event_name: ClassVar[str] = "dk.kl.events.meeting_cancelled"

    reason: str


Basis = Literal["member", "next_year_offer", "guest"]


class _RegistrationEvent(_MeetingEvent):
    major: ClassVar[int] = 2

    registration_id: str = Field(description="Id of the registration.", examples=["reg-4f1c2a"])
    participant: SealedParticipant


@registry.register
class RegistrationConfirmed(_RegistrationEvent):
    """A participant got a seat at registration."""

    event_name: ClassVar[str] = "dk.kl.events.registration_confirmed"

    basis: Basis = Field(description="Why they may attend: membership, the offer, or as guest.")
    price_dkk: int = Field(ge=0, description="What the participant's municipality pays.")


@registry.register
class RegistrationWaitlisted(_RegistrationEvent):
    """The meeting was full; the participant was put on the waiting list."""

    event_name: ClassVar[str] = "dk.kl.events.registration_waitlisted"

    basis: Basis
    price_dkk: int = Field(ge=0)
    position: int = Field(ge=1, description="Place on the waiting list, 1 is next.")


@registry.register
class RegistrationPromoted(_RegistrationEvent):
    """A seat was released or added and went to this participant from the waiting list."""

    event_name: ClassVar[str] = "dk.kl.events.registration_promoted"


@registry.register
class RegistrationCancelled(_RegistrationEvent):
    """A registration was cancelled by the participant, the municipality or an operator."""

    event_name: ClassVar[str] = "dk.kl.events.registration_cancelled"

    cancelled_by: Literal["participant", "municipality", "operator"]
    had_seat: bool


@registry.register
class AttendanceRecorded(_MeetingEvent):
    """After the meeting: did the participant come?"""

    event_name: ClassVar[str] = "dk.kl.events.attendance_recorded"

    registration_id: str
    attended: bool


# --- v1 of the registration events: retired -------------------------------------------
# They carried the participant in clear, which an erasure could never remove from the
# event store, the topics or their copies. They are no longer published; the models stay
# so the committed schemas keep their promise to readers of old history.


class _RegistrationEventV1(_MeetingEvent):
    retired: ClassVar[bool] = True

    registration_id: str = Field(description="Id of the registration.", examples=["reg-4f1c2a"])
    participant: Participant


@registry.register
class RegistrationConfirmedV1(_RegistrationEventV1):
    """Retired (personal data in clear): see the v2 event."""

    event_name: ClassVar[str] = "dk.kl.events.registration_confirmed"

    basis: Basis = Field(description="Why they may attend: membership, the offer, or as guest.")
    price_dkk: int = Field(ge=0, description="What the participant's municipality pays.")


@registry.register
class RegistrationWaitlistedV1(_RegistrationEventV1):
    """Retired (personal data in clear): see the v2 event."""

    event_name: ClassVar[str] = "dk.kl.events.registration_waitlisted"

    basis: Basis
    price_dkk: int = Field(ge=0)
    position: int = Field(ge=1, description="Place on the waiting list, 1 is next.")


@registry.register
class RegistrationPromotedV1(_RegistrationEventV1):
    """Retired (personal data in clear): see the v2 event."""

    event_name: ClassVar[str] = "dk.kl.events.registration_promoted"


@registry.register
class RegistrationCancelledV1(_RegistrationEventV1):
    """Retired (personal data in clear): see the v2 event."""

    event_name: ClassVar[str] = "dk.kl.events.registration_cancelled"

    cancelled_by: Literal["participant", "municipality", "operator"]
    had_seat: bool
