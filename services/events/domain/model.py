"""The meeting aggregate's state and its value objects.

One meeting and all its registrations form one aggregate (one event stream), so every seat
decision for a meeting sees every other. :func:`services.events.domain.decisions.evolve`
updates a state in place (the caller owns it) and keeps the derived indexes below current,
so deciding a registration costs O(1) however many registrations the meeting has.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, get_type_hints

Basis = Literal["member", "next_year_offer", "guest"]
RegistrationStatus = Literal["confirmed", "waitlisted", "cancelled"]
CancelledBy = Literal["participant", "municipality", "operator"]


@dataclass(frozen=True)
class Participant:
    """The person who registers, as the domain sees them: an id and a municipality.

    ``person_id`` is the same for the same e-mail (until the person is erased), so one
    person registers once; ``sealed`` carries the personal data (name, e-mail, job title,
    note), sealed at the edge: opaque here, no decision depends on it.
    """

    person_id: str
    municipality_code: str
    sealed: str


@dataclass(frozen=True)
class AgendaItem:
    """One item of a meeting's program."""

    starts_at: datetime
    title: str
    speaker: str | None = None


@dataclass(frozen=True)
class MembershipStanding:
    """What the service knows of a municipality's memberships of the meeting's network.

    ``member_of_year``: a membership of the meeting's year; ``member_of_next_year``: of the
    year after (what the offer "next year's members attend free" asks for).
    """

    member_of_year: bool
    member_of_next_year: bool


@dataclass
class Registration:
    """One registration of a meeting, as the aggregate keeps it."""

    registration_id: str
    participant: Participant
    basis: Basis
    price_dkk: int
    status: RegistrationStatus
    attended: bool | None = None

    @property
    def is_active(self) -> bool:
        return self.status != "cancelled"


@dataclass(frozen=True, kw_only=True)
class MeetingDetails:
    """What a meeting is scheduled with: the one definition of a meeting's own fields.

    :class:`~services.events.domain.commands.ScheduleMeeting` and
    :class:`~services.events.domain.events.MeetingScheduled` are made of these fields (they
    inherit them); :class:`Meeting` starts with them (it is changed in place, so it cannot
    inherit a frozen class), and the HTTP models, the wire contract and the read model are
    held against them by ``tests/unit/events/test_meeting_fields.py``.
    """

    network_slug: str
    year: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    venue_name: str
    venue_address: str
    seats: int
    registration_deadline: datetime
    per_municipality_cap: int | None = None
    guest_price_dkk: int | None = None
    next_year_members_free: bool = False


DETAILS = tuple(f.name for f in fields(MeetingDetails))
"""The names of a meeting's own fields, in their order."""

TIMES = frozenset(n for n, t in get_type_hints(MeetingDetails).items() if t is datetime)
"""Those of :data:`DETAILS` that are times."""

DEFAULTS = {f.name: f.default for f in fields(MeetingDetails) if f.default is not MISSING}
"""The defaults of those of :data:`DETAILS` that may be left out."""


def details_of(source: Any) -> dict[str, Any]:
    """The meeting's own fields of ``source`` (a command, an event, a meeting)."""
    return {name: getattr(source, name) for name in DETAILS}


@dataclass
class Meeting:
    """A scheduled meeting with its registrations: its own fields
    (:class:`MeetingDetails`), then its program, state and registrations."""

    meeting_id: str
    network_slug: str
    year: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    venue_name: str
    venue_address: str
    seats: int
    registration_deadline: datetime
    per_municipality_cap: int | None = None
    guest_price_dkk: int | None = None
    next_year_members_free: bool = False
    program: tuple[AgendaItem, ...] = ()
    cancelled: bool = False
    cancel_reason: str | None = None
    registrations: dict[str, Registration] = field(default_factory=dict)
    waitlist: list[str] = field(default_factory=list)
    # Derived indexes, kept by evolve (and rebuilt by reindex after loading a snapshot).
    seats_taken: int = 0
    offer_seats_taken: int = 0
    active_by_person: dict[str, str] = field(default_factory=dict)
    active_per_municipality: dict[str, int] = field(default_factory=dict)
    seats_per_municipality: dict[str, int] = field(default_factory=dict)

    @property
    def free_seats(self) -> int:
        return 0 if self.cancelled else max(self.seats - self.seats_taken, 0)

    def waiting_position(self, registration_id: str) -> int | None:
        """1-based place on the waiting list, or None if not waiting."""
        try:
            return self.waitlist.index(registration_id) + 1
        except ValueError:
            return None

    def reindex(self) -> None:
        """Recompute the derived indexes from the registrations."""
        self.seats_taken = 0
        self.offer_seats_taken = 0
        self.active_by_person = {}
        self.active_per_municipality = {}
        self.seats_per_municipality = {}
        for reg in self.registrations.values():
            if not reg.is_active:
                continue
            code = reg.participant.municipality_code
            self.active_by_person[reg.participant.person_id] = reg.registration_id
            self.active_per_municipality[code] = self.active_per_municipality.get(code, 0) + 1
            if reg.status == "confirmed":
                self.seats_taken += 1
                self.seats_per_municipality[code] = self.seats_per_municipality.get(code, 0) + 1
                if reg.basis == "next_year_offer":
                    self.offer_seats_taken += 1
