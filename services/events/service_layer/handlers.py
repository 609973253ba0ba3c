"""The use cases on meetings: one verb each, from what a caller asks to a decided reply.

A handler checks that the caller may do what they ask (ownership: a coordinator acts for
their own municipality, a participant for themselves), seals a participant's personal
data before anything else sees it, builds the command and has it decided in the meeting's
serialised, batched step (:class:`~services.events.service_layer.batching.MeetingService`),
once per Idempotency-Key and caller. ``render`` is the edge's: it turns the decided events
into the answer (status and body) inside the decision, so a replayed key gets the same one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from services.events.domain import commands as c
from services.events.domain.errors import DuplicateRegistrationError
from services.events.domain.model import (
    AgendaItem,
    CancelledBy,
    MeetingDetails,
    Participant,
    details_of,
)
from services.events.service_layer.batching import MeetingService, Render, stream_id_of
from services.events.service_layer.eligibility import EligibilityService
from services.events.service_layer.ports import IdempotencyRef, KeyVault, Reply
from services.kernel import idempotency
from services.kernel.clock import Clock
from services.kernel.principal import Principal, allow
from services.kernel.privacy import seal


@dataclass(frozen=True)
class Asked:
    """Who asks, the Idempotency-Key they sent (if any), and their request as sent: its hash
    tells a retry from another request with the same key."""

    principal: Principal
    key: str | None
    request: Any


@dataclass(frozen=True)
class Registrant:
    """The person a registration is for, as the request gives them (personal data)."""

    name: str
    email: str
    job_title: str
    municipality_code: str
    note: str | None

    def personal(self) -> dict[str, Any]:
        """What is sealed: everything but the municipality, which decisions need."""
        return {
            "name": self.name,
            "email": self.email,
            "job_title": self.job_title,
            "note": self.note,
        }


@dataclass(eq=False)
class MeetingHandlers:
    """The use cases of the events service's HTTP API."""

    meetings: MeetingService
    eligibility: EligibilityService
    persons: KeyVault
    clock: Clock
    _: KW_ONLY
    pending: timedelta
    """How long a person made for a request is held at least (see ``register``)."""

    async def _decide(self, asked: Asked, name: str, command: c.Command, render: Render) -> Reply:
        """Have ``command`` decided, once per Idempotency-Key of this caller (the token's
        subject) under the scope ``name``."""
        ref = None
        if asked.key is not None:
            scope = idempotency.scope(f"events:{name}", asked.principal.subject)
            ref = IdempotencyRef(scope, asked.key, idempotency.request_hash(asked.request))
        return await self.meetings.execute(command, render, ref)

    async def _on_meeting(
        self, asked: Asked, name: str, command: c.Command, render: Render
    ) -> Reply:
        """A command on an existing meeting: its Idempotency-Key is the meeting's too."""
        return await self._decide(asked, f"{name}:{command.meeting_id}", command, render)

    def _at(self) -> datetime:
        return self.clock.now()

    async def schedule_meeting(
        self, asked: Asked, slug: str | None, details: MeetingDetails, render: Render
    ) -> Reply:
        """Schedule a meeting; its id is ``meeting-<slug>`` (a UUID without a slug)."""
        meeting_id = stream_id_of(slug or str(uuid4()))
        command = c.ScheduleMeeting(meeting_id=meeting_id, at=self._at(), **details_of(details))
        return await self._decide(asked, "schedule", command, render)

    async def publish_program(
        self, asked: Asked, meeting: str, items: Sequence[AgendaItem], render: Render
    ) -> Reply:
        command = c.PublishProgram(
            meeting_id=stream_id_of(meeting), at=self._at(), items=tuple(items)
        )
        return await self._on_meeting(asked, "program", command, render)

    async def reschedule_meeting(
        self,
        asked: Asked,
        meeting: str,
        *,
        starts_at: datetime,
        ends_at: datetime,
        registration_deadline: datetime,
        venue_name: str | None,
        venue_address: str | None,
        render: Render,
    ) -> Reply:
        command = c.RescheduleMeeting(
            meeting_id=stream_id_of(meeting),
            at=self._at(),
            starts_at=starts_at,
            ends_at=ends_at,
            registration_deadline=registration_deadline,
            venue_name=venue_name,
            venue_address=venue_address,
        )
        return await self._on_meeting(asked, "reschedule", command, render)

    async def change_seats(self, asked: Asked, meeting: str, seats: int, render: Render) -> Reply:
        command = c.ChangeSeats(meeting_id=stream_id_of(meeting), at=self._at(), seats=seats)
        return await self._on_meeting(asked, "seats", command, render)

    async def change_offer(
        self, asked: Asked, meeting: str, next_year_members_free: bool, render: Render
    ) -> Reply:
        command = c.ChangeOffer(
            meeting_id=stream_id_of(meeting),
            at=self._at(),
            next_year_members_free=next_year_members_free,
        )
        return await self._on_meeting(asked, "offer", command, render)

    async def cancel_meeting(
        self, asked: Asked, meeting: str, reason: str, render: Render
    ) -> Reply:
        command = c.CancelMeeting(meeting_id=stream_id_of(meeting), at=self._at(), reason=reason)
        return await self._on_meeting(asked, "cancel", command, render)

    async def register(
        self, asked: Asked, meeting: str, registrant: Registrant, render: Render
    ) -> Reply:
        """Register a participant: for their own municipality's coordinator (or KL), or a
        participant for themselves in their own municipality. The personal data is sealed
        here: the domain sees the person's id and municipality only."""
        caller, code = asked.principal, registrant.municipality_code
        allow(
            caller.acts_for(code)
            or (caller.is_person(registrant.email) and caller.municipality_code == code)
        )
        stream = stream_id_of(meeting)
        header = await self.meetings.header(stream)
        standing = await self.eligibility.standing(header, code)
        # Held "pending" for a while: if this request is refused, nothing else holds a
        # person made for it, and the retention sweeper erases them afterwards. The hold
        # is set by the first request only: later ones (refused or not) never renew it.
        person = await self.persons.person_for(
            registrant.email, pending_until=self._at() + self.pending
        )
        command = c.Register(
            meeting_id=stream,
            at=self._at(),
            registration_id=f"reg-{uuid4().hex[:12]}",
            participant=Participant(
                person_id=person.person_id,
                municipality_code=code,
                sealed=seal(person.person_id, person.key, registrant.personal()),
            ),
            standing=standing,
        )
        try:
            return await self._on_meeting(asked, "register", command, render)
        except DuplicateRegistrationError as exc:
            # The existing registration's id is for KL, its municipality's coordinator and
            # the person (a participant registers only themselves); not for a coordinator
            # of another municipality probing whether an address is registered where.
            if caller.role == "participant" or caller.acts_for(exc.municipality_code):
                raise
            raise exc.without_ids() from None

    async def cancel_registration(
        self,
        asked: Asked,
        meeting: str,
        registration_id: str,
        cancelled_by: CancelledBy,
        render: Render,
    ) -> Reply:
        """Cancel a registration: KL, the coordinator of its municipality, or the person
        themselves. Who cancelled is who signed in: only KL may say otherwise."""
        caller = asked.principal
        if not caller.is_operator:
            _, state = await self.meetings.meeting(meeting)
            registration = state.registrations.get(registration_id)
            if registration is not None:  # an unknown one: the command answers 404
                person = registration.participant
                # The registration holds no e-mail in clear: the vault's person id of the
                # token's e-mail is the same as the registration's for the same person.
                own = (
                    caller.role == "participant"
                    and caller.email is not None
                    and await self.persons.find(caller.email) == person.person_id
                )
                allow(caller.acts_for(person.municipality_code) or own)
            cancelled_by = "participant" if caller.role == "participant" else "municipality"
        command = c.CancelRegistration(
            meeting_id=stream_id_of(meeting),
            at=self._at(),
            registration_id=registration_id,
            cancelled_by=cancelled_by,
        )
        # A retry is recognised by what is done, whatever the caller said of who cancels.
        asked = replace(
            asked, request={"registration_id": registration_id, "cancelled_by": cancelled_by}
        )
        return await self._on_meeting(asked, "cancel-registration", command, render)

    async def record_attendance(
        self, asked: Asked, meeting: str, registration_id: str, attended: bool, render: Render
    ) -> Reply:
        command = c.RecordAttendance(
            meeting_id=stream_id_of(meeting),
            at=self._at(),
            registration_id=registration_id,
            attended=attended,
        )
        return await self._on_meeting(asked, "attendance", command, render)
