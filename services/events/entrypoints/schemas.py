"""HTTP request and response models of the events service, each with an example."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, EmailStr, Field

from services.kernel.examples import examples
from services.kernel.http import CleanText

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def _copenhagen(value: datetime) -> datetime:
    """A time without offset is Copenhagen time; every time is shown in Copenhagen time."""
    if not 2000 <= value.year <= 2100:  # also keeps the conversion off datetime's limits
        raise ValueError("must be a time in the years 2000 to 2100")
    if value.tzinfo is None:
        value = value.replace(tzinfo=COPENHAGEN)
    return value.astimezone(COPENHAGEN)


LocalTime = Annotated[datetime, AfterValidator(_copenhagen)]


AGENDA_EXAMPLE = {
    "starts_at": "2021-12-08T10:00:00+01:00",
    "title": "Velkomst og nyt fra KL",
    "speaker": "KL, Kontor for Boligpolitik",
}


class AgendaItemModel(BaseModel):
    """One item of the program."""

    model_config = examples(AGENDA_EXAMPLE)

    starts_at: LocalTime = Field(description="Start (Europe/Copenhagen if no offset).")
    title: CleanText = Field(min_length=1, max_length=300)
    speaker: CleanText | None = Field(default=None, max_length=300)


SCHEDULE_EXAMPLE = {
    "slug": "knub-2021-3",
    "network_slug": "knub",
    "year": 2021,
    "title": "3. netværksmøde 2021",
    "description": "Systematisering af anvisning og udlejning.",
    "starts_at": "2021-12-08T10:00:00",
    "ends_at": "2021-12-08T15:30:00",
    "venue_name": "KL-huset",
    "venue_address": "Weidekampsgade 10, 2300 København S",
    "seats": 80,
    "registration_deadline": "2021-12-03T12:00:00",
    "per_municipality_cap": 3,
    "guest_price_dkk": None,
    "next_year_members_free": True,
}


class ScheduleMeetingRequest(BaseModel):
    """Schedule a meeting of a network."""

    model_config = examples(SCHEDULE_EXAMPLE)

    slug: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{1,60}$",
        description="Readable id (the stream becomes meeting-<slug>); a UUID if left out.",
    )
    network_slug: str = Field(pattern=r"^[a-z0-9-]{2,40}$")
    year: int = Field(ge=2000, le=2100, description="The membership year it belongs to.")
    title: CleanText = Field(min_length=1, max_length=200)
    description: CleanText = Field(default="", max_length=5000)
    starts_at: LocalTime
    ends_at: LocalTime
    venue_name: CleanText = Field(min_length=1, max_length=200)
    venue_address: CleanText = Field(min_length=1, max_length=300)
    seats: int = Field(ge=0, le=100_000)
    registration_deadline: LocalTime
    per_municipality_cap: int | None = Field(default=None, ge=1, le=100_000)
    guest_price_dkk: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="None: members only (and the offer, if marked).",
    )
    next_year_members_free: bool = False


MEETING_EXAMPLE = {
    **{k: v for k, v in SCHEDULE_EXAMPLE.items() if k != "slug"},
    "meeting_id": "meeting-knub-2021-3",
    "starts_at": "2021-12-08T10:00:00+01:00",
    "ends_at": "2021-12-08T15:30:00+01:00",
    "registration_deadline": "2021-12-03T12:00:00+01:00",
    "waiting": 0,
    "program": [AGENDA_EXAMPLE],
}
"""The scheduled meeting as the answers show it (in Copenhagen time, with its id)."""


class MeetingHeading(BaseModel):
    """What every view of a meeting shows first: which meeting, what, when and where."""

    meeting_id: str
    network_slug: str
    year: int
    title: str
    description: str
    starts_at: LocalTime
    ends_at: LocalTime
    venue_name: str
    venue_address: str


class MeetingResponse(MeetingHeading):
    """A meeting as the service knows it now (read from its event stream)."""

    model_config = examples(
        {
            **MEETING_EXAMPLE,
            "seats_taken": 12,
            "offer_seats_taken": 3,
            "free_seats": 68,
            "cancelled": False,
            "cancel_reason": None,
            "version": 14,
        }
    )

    seats: int
    seats_taken: int
    offer_seats_taken: int = Field(description="Seats taken under the next-year offer.")
    free_seats: int
    waiting: int
    registration_deadline: LocalTime
    per_municipality_cap: int | None
    guest_price_dkk: int | None
    next_year_members_free: bool
    program: list[AgendaItemModel]
    cancelled: bool
    cancel_reason: str | None
    version: int | None = None


class UpcomingMeeting(MeetingHeading):
    """An upcoming meeting with its program and free seats (from the projection)."""

    model_config = examples(
        {**{k: v for k, v in MEETING_EXAMPLE.items() if k != "per_municipality_cap"}, "free": 68}
    )

    registration_deadline: LocalTime
    seats: int
    free: int
    waiting: int
    next_year_members_free: bool
    guest_price_dkk: int | None
    program: list[AgendaItemModel]


class ProgramRequest(BaseModel):
    """The whole program (replaces the one before)."""

    model_config = examples({"items": [AGENDA_EXAMPLE]})

    items: list[AgendaItemModel] = Field(max_length=100)


class RescheduleRequest(BaseModel):
    """New time (and optionally place) of the meeting."""

    model_config = examples(
        {
            "starts_at": "2021-12-09T10:00:00",
            "ends_at": "2021-12-09T15:30:00",
            "registration_deadline": "2021-12-06T12:00:00",
            "venue_name": None,
            "venue_address": None,
        }
    )

    starts_at: LocalTime
    ends_at: LocalTime
    registration_deadline: LocalTime
    venue_name: CleanText | None = Field(default=None, max_length=200)
    venue_address: CleanText | None = Field(default=None, max_length=300)


class SeatsRequest(BaseModel):
    """The new number of seats (raise or lower)."""

    model_config = examples({"seats": 100})

    seats: int = Field(ge=0, le=100_000)


class OfferRequest(BaseModel):
    """Put the offer "next year's members attend free" on or off the meeting."""

    model_config = examples({"next_year_members_free": True})

    next_year_members_free: bool


class CancelMeetingRequest(BaseModel):
    """Cancel the meeting."""

    model_config = examples({"reason": "Aflyst på grund af forsamlingsforbud."})

    reason: CleanText = Field(min_length=1, max_length=1000)


class RegistrationRequest(BaseModel):
    """A named participant registers for a meeting."""

    model_config = examples(
        {
            "name": "Anne Jensen",
            "email": "anne.jensen@aarhus.dk",
            "job_title": "Boligsocial koordinator",
            "municipality_code": "751",
            "note": "Vegetar",
        }
    )

    name: CleanText = Field(min_length=1, max_length=200)
    email: EmailStr
    job_title: CleanText = Field(min_length=1, max_length=200)
    municipality_code: str = Field(pattern=r"^\d{3}$")
    note: CleanText | None = Field(
        default=None, max_length=1000, description="Diet or access needs."
    )


class RegistrationResponse(BaseModel):
    """The decision: a seat (201) or a place on the waiting list (202)."""

    model_config = examples(
        {
            "registration_id": "reg-4f1c2a9b3d7e",
            "meeting_id": "meeting-knub-2021-3",
            "status": "confirmed",
            "basis": "next_year_offer",
            "price_dkk": 0,
            "waiting_position": None,
        }
    )

    registration_id: str
    meeting_id: str
    status: Literal["confirmed", "waitlisted", "cancelled"]
    basis: Literal["member", "next_year_offer", "guest"]
    price_dkk: int
    waiting_position: int | None = None


class CancelRegistrationRequest(BaseModel):
    """Who cancels the registration."""

    model_config = examples({"cancelled_by": "participant"})

    cancelled_by: Literal["participant", "municipality", "operator"] = "participant"


class CancelRegistrationResponse(BaseModel):
    """The registration is cancelled; these registrations got the released seat."""

    model_config = examples(
        {
            "registration_id": "reg-4f1c2a9b3d7e",
            "status": "cancelled",
            "promoted": ["reg-77aa01bc22de"],
        }
    )

    registration_id: str
    status: Literal["cancelled"]
    promoted: list[str]


class AttendanceRequest(BaseModel):
    """After the meeting: did the participant come?"""

    model_config = examples({"attended": True})

    attended: bool


class AttendanceResponse(BaseModel):
    model_config = examples({"registration_id": "reg-4f1c2a9b3d7e", "attended": True})

    registration_id: str
    attended: bool


class SeatsResponse(BaseModel):
    """The seats now, and who was promoted from the waiting list by added seats."""

    model_config = examples({"meeting_id": "meeting-knub-2021-3", "seats": 100, "promoted": []})

    meeting_id: str
    seats: int
    promoted: list[str]


class Availability(BaseModel):
    """Seat availability of a meeting (projection)."""

    model_config = examples(
        {
            "meeting_id": "meeting-knub-2021-3",
            "seats": 80,
            "taken": 80,
            "free": 0,
            "waiting": 4,
            "offer_taken": 9,
            "cancelled": False,
        }
    )

    meeting_id: str
    seats: int
    taken: int
    free: int
    waiting: int
    offer_taken: int = Field(description="Seats taken under the next-year offer.")
    cancelled: bool


PARTICIPANT_EXAMPLE = {
    "registration_id": "reg-4f1c2a9b3d7e",
    "meeting_id": "meeting-knub-2021-3",
    "name": "Anne Jensen",
    "email": "anne.jensen@aarhus.dk",
    "job_title": "Boligsocial koordinator",
    "municipality_code": "751",
    "note": "Vegetar",
    "basis": "member",
    "price_dkk": 0,
    "status": "confirmed",
    "waiting_position": None,
    "attended": None,
    "cancelled_by": None,
    "erased": False,
}


class ParticipantRow(BaseModel):
    """One registration in the participant list (operators)."""

    model_config = examples(PARTICIPANT_EXAMPLE)

    registration_id: str
    meeting_id: str
    name: str = Field(description='The name; "[slettet]" once the person is erased.')
    email: str | None = Field(description="The e-mail; null once the person is erased.")
    job_title: str | None
    municipality_code: str
    note: str | None
    basis: str
    price_dkk: int
    status: str
    waiting_position: int | None
    attended: bool | None
    cancelled_by: str | None
    erased: bool = Field(
        default=False, description="The person was erased (GDPR): seat and status remain."
    )


class MunicipalityRegistration(ParticipantRow):
    """A municipality's registration, with the meeting's title and time."""

    model_config = examples(
        {
            **{k: v for k, v in PARTICIPANT_EXAMPLE.items() if k != "erased"},
            "meeting_title": "3. netværksmøde 2021",
            "starts_at": "2021-12-08T10:00:00+01:00",
            "meeting_cancelled": False,
            "note": None,
            "status": "waitlisted",
            "waiting_position": 2,
        }
    )

    meeting_title: str
    starts_at: LocalTime
    meeting_cancelled: bool
