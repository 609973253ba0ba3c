"""The events service's HTTP API (FastAPI): meetings, registrations, availability.

Commands on a meeting go through :class:`MeetingService` (batched, serialised per meeting);
reads of lists and availability come from the projections. Every refusal is
problem+json with a Danish ``detail`` and ``detail_en`` beside it, and writes nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any
from uuid import uuid4

import orjson
from fastapi import APIRouter, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator
from sse_starlette.sse import EventSourceResponse

from services.events.adapters import membership_view, projections
from services.events.config import Settings
from services.events.domain import commands as c
from services.events.domain import errors
from services.events.domain import events as e
from services.events.domain.model import AgendaItem, Meeting, Participant
from services.events.entrypoints import schemas as s
from services.events.entrypoints.privacy import privacy_router
from services.events.service_layer.erasure import ErasureService
from services.events.service_layer.meetings import (
    ConcurrencyExhaustedError,
    EligibilityService,
    IdempotencyRef,
    MeetingService,
    Render,
    Reply,
    stream_id_of,
)
from services.events.service_layer.ports import MembershipServiceUnavailableError
from services.kernel import idempotency
from services.kernel.auth import AnyRole, Operator, OperatorOrCoordinator, Principal, allow
from services.kernel.clock import Clock
from services.kernel.health import install_health
from services.kernel.http import (
    NO_OTEL,
    BodySizeLimitMiddleware,
    CorrelationMiddleware,
    ProblemError,
    install_problem_handlers,
    no_control_characters,
    problem_response,
)
from services.kernel.paging import PageCursor, PageLimit, decode_cursor, page
from services.kernel.privacy import Vault, seal
from services.kernel.runtime import ServiceRuntime
from services.kernel.shared_poll import SharedPoll
from services.kernel.stream_limits import StreamLimiter

KNOWN_NETWORKS = {"knub": "Kommunernes Netværk for Udsatte Boligområder"}

STATUS_OF: dict[type[errors.MeetingError], int] = {
    errors.MeetingNotFoundError: 404,
    errors.RegistrationNotFoundError: 404,
    errors.NotAMemberError: 403,
    errors.InvalidMeetingError: 422,
}
"""HTTP status of each refusal; any other MeetingError is a conflict with the state (409)."""

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Send the same key again to get the first answer again, with no new effect.",
    ),
]

MeetingRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        description="The meeting's id (meeting-<slug or uuid>) or just its slug.",
        examples=["meeting-knub-2021-3"],
    ),
    AfterValidator(no_control_characters),
]
RegistrationRef = Annotated[
    str,
    Path(min_length=1, max_length=200, examples=["reg-4f1c2a9b3d7e"]),
    AfterValidator(no_control_characters),
]

PROBLEM = {"description": "Refused (problem+json, Danish detail and English detail_en)."}
PAGED = (
    "At most `limit` rows; when more follow, the answer has a `Link: <?limit=..&cursor=..>; "
    'rel="next"` header: ask that (relative to this address) for the next page.'
)


def meeting_body(m: Meeting, version: int | None = None) -> dict[str, Any]:
    body = s.MeetingResponse(
        meeting_id=m.meeting_id,
        network_slug=m.network_slug,
        year=m.year,
        title=m.title,
        description=m.description,
        starts_at=m.starts_at,
        ends_at=m.ends_at,
        venue_name=m.venue_name,
        venue_address=m.venue_address,
        seats=m.seats,
        seats_taken=m.seats_taken,
        offer_seats_taken=m.offer_seats_taken,
        free_seats=m.free_seats,
        waiting=len(m.waitlist),
        registration_deadline=m.registration_deadline,
        per_municipality_cap=m.per_municipality_cap,
        guest_price_dkk=m.guest_price_dkk,
        next_year_members_free=m.next_year_members_free,
        program=[
            s.AgendaItemModel(starts_at=i.starts_at, title=i.title, speaker=i.speaker)
            for i in m.program
        ],
        cancelled=m.cancelled,
        cancel_reason=m.cancel_reason,
        version=version,
    )
    return body.model_dump(mode="json")


def _render_meeting(status: int) -> Render:
    def render(_: list[e.Event], m: Meeting) -> tuple[int, Any]:
        return status, meeting_body(m)

    return render


def _render_registration(evs: list[e.Event], m: Meeting) -> tuple[int, Any]:
    [event] = evs
    assert isinstance(event, e.RegistrationConfirmed | e.RegistrationWaitlisted)
    waiting = isinstance(event, e.RegistrationWaitlisted)
    body = s.RegistrationResponse(
        registration_id=event.registration_id,
        meeting_id=m.meeting_id,
        status="waitlisted" if waiting else "confirmed",
        basis=event.basis,
        price_dkk=event.price_dkk,
        waiting_position=event.position if isinstance(event, e.RegistrationWaitlisted) else None,
    )
    return (202 if waiting else 201), body.model_dump(mode="json")


def _promoted(evs: list[e.Event]) -> list[str]:
    return [ev.registration_id for ev in evs if isinstance(ev, e.RegistrationPromoted)]


def _render_cancellation(evs: list[e.Event], _: Meeting) -> tuple[int, Any]:
    cancelled = next(ev for ev in evs if isinstance(ev, e.RegistrationCancelled))
    body = s.CancelRegistrationResponse(
        registration_id=cancelled.registration_id, status="cancelled", promoted=_promoted(evs)
    )
    return 200, body.model_dump(mode="json")


def _render_seats(evs: list[e.Event], m: Meeting) -> tuple[int, Any]:
    body = s.SeatsResponse(meeting_id=m.meeting_id, seats=m.seats, promoted=_promoted(evs))
    return 200, body.model_dump(mode="json")


def _render_attendance(evs: list[e.Event], _: Meeting) -> tuple[int, Any]:
    [event] = evs
    assert isinstance(event, e.AttendanceRecorded)
    body = s.AttendanceResponse(registration_id=event.registration_id, attended=event.attended)
    return 200, body.model_dump(mode="json")


def _answer(reply: Reply) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)


def create_app(
    *,
    runtime: ServiceRuntime,
    meetings: MeetingService,
    eligibility: EligibilityService,
    clock: Clock,
    settings: Settings,
    vault: Vault,
    erasure: ErasureService,
) -> FastAPI:
    """The FastAPI app; its lifespan starts and stops the runtime."""
    app = FastAPI(
        title="KL events service",
        version="1.0.0",
        description="Netværksmøder, tilmeldinger, pladser og venteliste. "
        "Network meetings, registrations, seats and the waiting list.",
        lifespan=runtime.lifespan,
        telemetry=NO_OTEL,
    )
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(CorrelationMiddleware)
    install_problem_handlers(app)
    install_health(app, runtime.readiness_checks())

    @app.exception_handler(errors.MeetingError)
    async def _refused(_: Request, exc: errors.MeetingError) -> JSONResponse:
        status = STATUS_OF.get(type(exc), 409)
        extra: dict[str, Any] = {}
        if isinstance(exc, errors.DuplicateRegistrationError) and exc.registration_id:
            extra["registration_id"] = exc.registration_id
        if isinstance(exc, errors.NotAMemberError):
            name = KNOWN_NETWORKS.get(exc.network_slug, exc.network_slug)
            try:
                name = await membership_view.network_name(runtime.pool, exc.network_slug) or name
            except Exception:  # noqa: S110 - the name is a courtesy; the refusal stands
                pass
            join_url = settings.join_url_template.format(slug=exc.network_slug)
            extra.update(
                network=exc.network_slug,
                network_name=name,
                join_url=join_url,
                join_year=exc.year + 1 if exc.offer else exc.year,
            )
            return problem_response(
                status,
                exc.code,
                exc.title,
                f"{exc.detail_da} Indmeldelse i {name}: POST {join_url}",
                f"{exc.detail_en} To join {name}: POST {join_url}",
                **extra,
            )
        return problem_response(status, exc.code, exc.title, exc.detail_da, exc.detail_en, **extra)

    @app.exception_handler(MembershipServiceUnavailableError)
    async def _membership_down(_: Request, exc: MembershipServiceUnavailableError) -> JSONResponse:
        return problem_response(
            503,
            "membership-unavailable",
            "Medlemskab kan ikke afgøres lige nu",
            "Medlemstjenesten svarer ikke, så vi kan ikke afgøre pris og adgang. Intet er gemt."
            " Prøv igen om lidt.",
            "The membership service does not answer, so price and access cannot be decided."
            " Nothing was saved. Try again shortly.",
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(ConcurrencyExhaustedError)
    async def _busy(_: Request, exc: ConcurrencyExhaustedError) -> JSONResponse:
        return problem_response(
            503,
            "busy",
            "Mødet er travlt lige nu",
            "Mødet blev ændret samtidig fra flere sider. Intet er gemt. Prøv igen om lidt.",
            "The meeting was being changed concurrently. Nothing was saved. Try again shortly.",
            headers={"Retry-After": "1"},
        )

    router = APIRouter(tags=["meetings"], responses={400: PROBLEM, 404: PROBLEM, 409: PROBLEM})

    def idem(
        principal: Principal, scope: str, key: str | None, payload: Any
    ) -> IdempotencyRef | None:
        """The Idempotency-Key of this caller (the token's subject) for this command."""
        if key is None:
            return None
        name = idempotency.scope(f"events:{scope}", principal.subject)
        return IdempotencyRef(name, key, idempotency.request_hash(payload))

    @router.post(
        "/meetings",
        status_code=201,
        response_model=s.MeetingResponse,
        summary="Schedule a meeting",
    )
    async def schedule_meeting(
        principal: Operator,
        body: s.ScheduleMeetingRequest,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        meeting_id = stream_id_of(body.slug or str(uuid4()))
        command = c.ScheduleMeeting(
            meeting_id=meeting_id,
            at=clock.now(),
            **body.model_dump(exclude={"slug"}),
        )
        ref = idem(principal, "schedule", idempotency_key, body.model_dump(mode="json"))
        return _answer(await meetings.execute(command, _render_meeting(201), ref))

    @router.get("/meetings", response_model=list[s.UpcomingMeeting], summary="Upcoming meetings")
    async def upcoming() -> list[s.UpcomingMeeting]:
        rows = await projections.upcoming_meetings(runtime.pool, clock.now())
        return [s.UpcomingMeeting.model_validate(r) for r in rows]

    @router.get("/meetings/{meeting_id}", response_model=s.MeetingResponse, summary="A meeting")
    async def get_meeting(meeting_id: MeetingRef) -> JSONResponse:
        version, meeting = await meetings.meeting(meeting_id)
        return JSONResponse(meeting_body(meeting, version))

    async def _command(
        principal: Principal,
        scope: str,
        key: str | None,
        payload: Any,
        command: c.Command,
        r: Render,
    ) -> JSONResponse:
        ref = idem(principal, f"{scope}:{command.meeting_id}", key, payload)
        return _answer(await meetings.execute(command, r, ref))

    @router.put(
        "/meetings/{meeting_id}/program",
        response_model=s.MeetingResponse,
        summary="Publish or change the program",
    )
    async def publish_program(
        principal: Operator,
        meeting_id: MeetingRef,
        body: s.ProgramRequest,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        command = c.PublishProgram(
            meeting_id=stream_id_of(meeting_id),
            at=clock.now(),
            items=tuple(AgendaItem(i.starts_at, i.title, i.speaker) for i in body.items),
        )
        payload = body.model_dump(mode="json")
        return await _command(
            principal, "program", idempotency_key, payload, command, _render_meeting(200)
        )

    @router.post(
        "/meetings/{meeting_id}/reschedule",
        response_model=s.MeetingResponse,
        summary="Move the meeting in time (or place)",
    )
    async def reschedule(
        principal: Operator,
        meeting_id: MeetingRef,
        body: s.RescheduleRequest,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        command = c.RescheduleMeeting(
            meeting_id=stream_id_of(meeting_id), at=clock.now(), **body.model_dump()
        )
        payload = body.model_dump(mode="json")
        return await _command(
            principal, "reschedule", idempotency_key, payload, command, _render_meeting(200)
        )

    @router.post(
        "/meetings/{meeting_id}/seats",
        response_model=s.SeatsResponse,
        summary="Raise or lower the number of seats",
    )
    async def change_seats(
        principal: Operator,
        meeting_id: MeetingRef,
        body: s.SeatsRequest,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        command = c.ChangeSeats(
            meeting_id=stream_id_of(meeting_id), at=clock.now(), seats=body.seats
        )
        return await _command(
            principal, "seats", idempotency_key, body.model_dump(), command, _render_seats
        )

    @router.post(
        "/meetings/{meeting_id}/offer",
        response_model=s.MeetingResponse,
        summary='Mark or unmark the offer "next year\'s members attend free"',
    )
    async def change_offer(
        principal: Operator,
        meeting_id: MeetingRef,
        body: s.OfferRequest,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        command = c.ChangeOffer(
            meeting_id=stream_id_of(meeting_id),
            at=clock.now(),
            next_year_members_free=body.next_year_members_free,
        )
        return await _command(
            principal, "offer", idempotency_key, body.model_dump(), command, _render_meeting(200)
        )

    @router.post(
        "/meetings/{meeting_id}/cancel",
        response_model=s.MeetingResponse,
        summary="Cancel the meeting",
    )
    async def cancel_meeting(
        principal: Operator,
        meeting_id: MeetingRef,
        body: s.CancelMeetingRequest,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        command = c.CancelMeeting(
            meeting_id=stream_id_of(meeting_id), at=clock.now(), reason=body.reason
        )
        return await _command(
            principal, "cancel", idempotency_key, body.model_dump(), command, _render_meeting(200)
        )

    @router.post(
        "/meetings/{meeting_id}/registrations",
        status_code=201,
        response_model=s.RegistrationResponse,
        responses={
            202: {"model": s.RegistrationResponse, "description": "On the waiting list"},
            403: PROBLEM,
            503: PROBLEM,
        },
        summary="Register a participant: a seat, the waiting list, or a refusal",
        description="The decision is immediate. 201: a seat (RegistrationConfirmed). 202: a "
        "place on the waiting list, with its position (RegistrationWaitlisted). Refusals, with "
        "nothing written: 403 not a member (with how to join), 404 unknown meeting, 409 "
        "deadline passed, meeting cancelled, e-mail already registered, or the municipality "
        "at the meeting's per-municipality cap (seats and waiting list count together), "
        "422 malformed input, 503 membership service unreachable while the service's own "
        "view does not show the membership (never a wrong refusal). Price and basis: member "
        "of the meeting's year 0 DKK; on a meeting with the offer, member of next year 0 DKK "
        "(no priority: seats while they last, then the waiting list); else the guest price.",
    )
    async def register(
        principal: AnyRole,
        meeting_id: MeetingRef,
        body: s.RegistrationRequest,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        allow(
            principal.acts_for(body.municipality_code)
            or (
                principal.is_person(str(body.email))
                and principal.municipality_code == body.municipality_code
            )
        )
        stream = stream_id_of(meeting_id)
        header = await meetings.header(stream)
        standing = await eligibility.standing(header, body.municipality_code)
        # Sealed here, at the edge: the domain sees the person's id and municipality only.
        # Held "pending" for a while: if this request is refused, nothing else holds a
        # person made for it, and the retention sweeper erases them afterwards. The hold
        # is set by the first request only: later ones (refused or not) never renew it.
        person = await vault.person_for(
            str(body.email),
            pending_until=clock.now() + timedelta(days=vault.settings.pending_days),
        )
        personal = {
            "name": body.name,
            "email": str(body.email),
            "job_title": body.job_title,
            "note": body.note,
        }
        command = c.Register(
            meeting_id=stream,
            at=clock.now(),
            registration_id=f"reg-{uuid4().hex[:12]}",
            participant=Participant(
                person_id=person.person_id,
                municipality_code=body.municipality_code,
                sealed=seal(person.person_id, person.key, personal),
            ),
            standing=standing,
        )
        payload = body.model_dump(mode="json")
        try:
            return await _command(
                principal, "register", idempotency_key, payload, command, _render_registration
            )
        except errors.DuplicateRegistrationError as exc:
            # The existing registration's id is for KL, its municipality's coordinator and
            # the person (a participant registers only themselves); not for a coordinator
            # of another municipality probing whether an address is registered where.
            if principal.role == "participant" or principal.acts_for(exc.municipality_code):
                raise
            raise exc.without_ids() from None

    @router.get(
        "/meetings/{meeting_id}/registrations",
        response_model=list[s.ParticipantRow],
        summary="The participant list (operators), a page at a time",
        description=PAGED,
    )
    async def participant_list(
        _: Operator,
        meeting_id: MeetingRef,
        response: Response,
        limit: PageLimit = 100,
        cursor: PageCursor = None,
    ) -> list[s.ParticipantRow]:
        stream = stream_id_of(meeting_id)
        after = decode_cursor(cursor, 4)
        await meetings.header(stream)  # 404 for an unknown meeting
        rows, keys = await projections.participants_page(
            runtime.pool, stream, limit=limit + 1, after=after
        )
        return [s.ParticipantRow.model_validate(r) for r in page(rows, keys, limit, response)]

    @router.post(
        "/meetings/{meeting_id}/registrations/{registration_id}/cancel",
        response_model=s.CancelRegistrationResponse,
        summary="Cancel a registration; a released seat goes to the first on the waiting list",
    )
    async def cancel_registration(
        principal: AnyRole,
        meeting_id: MeetingRef,
        registration_id: RegistrationRef,
        body: s.CancelRegistrationRequest | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        if not principal.is_operator:
            _, meeting = await meetings.meeting(meeting_id)
            registration = meeting.registrations.get(registration_id)
            if registration is not None:  # an unknown one: the command answers 404
                person = registration.participant
                # The registration holds no e-mail in clear: the vault's person id of the
                # token's e-mail is the same as the registration's for the same person.
                own = (
                    principal.role == "participant"
                    and principal.email is not None
                    and await vault.find(principal.email) == person.person_id
                )
                allow(principal.acts_for(person.municipality_code) or own)
        body = body or s.CancelRegistrationRequest()
        if not principal.is_operator:  # who cancelled is who signed in, not what they say
            body = s.CancelRegistrationRequest(
                cancelled_by="participant" if principal.role == "participant" else "municipality"
            )
        command = c.CancelRegistration(
            meeting_id=stream_id_of(meeting_id),
            at=clock.now(),
            registration_id=registration_id,
            cancelled_by=body.cancelled_by,
        )
        payload = {"registration_id": registration_id, **body.model_dump()}
        return await _command(
            principal,
            "cancel-registration",
            idempotency_key,
            payload,
            command,
            _render_cancellation,
        )

    @router.post(
        "/meetings/{meeting_id}/registrations/{registration_id}/attendance",
        response_model=s.AttendanceResponse,
        summary="Record attendance after the meeting",
    )
    async def record_attendance(
        principal: Operator,
        meeting_id: MeetingRef,
        registration_id: RegistrationRef,
        body: s.AttendanceRequest,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        command = c.RecordAttendance(
            meeting_id=stream_id_of(meeting_id),
            at=clock.now(),
            registration_id=registration_id,
            attended=body.attended,
        )
        payload = {"registration_id": registration_id, **body.model_dump()}
        return await _command(
            principal, "attendance", idempotency_key, payload, command, _render_attendance
        )

    @router.get(
        "/meetings/{meeting_id}/availability",
        response_model=s.Availability,
        summary="Seat availability (projection)",
    )
    async def get_availability(meeting_id: MeetingRef) -> s.Availability:
        row = await projections.availability(runtime.pool, stream_id_of(meeting_id))
        if row is None:
            raise errors.MeetingNotFoundError(stream_id_of(meeting_id))
        return s.Availability.model_validate(row)

    availability_feed: SharedPoll[dict[str, Any]] = SharedPoll(
        lambda stream: projections.availability(runtime.pool, stream),
        settings.sse_interval_s,
        name="availability",
    )
    stream_limits = StreamLimiter(settings.sse_max_streams, settings.sse_max_streams_per_client)

    @router.get(
        "/meetings/{meeting_id}/availability/stream",
        summary="Live seat availability (Server-Sent Events)",
        description="An `availability` event now and at every change. The service reads "
        "each meeting's availability once per interval (EVENTS_SSE_INTERVAL_S) for all its "
        "listeners. Streams are capped per process (503) and per client address (429), "
        "both with Retry-After.",
        response_class=EventSourceResponse,
        responses={
            200: {"content": {"text/event-stream": {}}},
            429: PROBLEM,
            503: PROBLEM,
        },
    )
    async def stream_availability(
        meeting_id: MeetingRef,
        request: Request,
        interval: Annotated[
            float | None,
            Query(
                gt=0,
                le=60,
                allow_inf_nan=False,
                deprecated=True,
                description="Ignored: the service chooses the interval for all listeners.",
            ),
        ] = None,
    ) -> EventSourceResponse:
        stream = stream_id_of(meeting_id)
        slot = stream_limits.admit(request.client.host if request.client else "unknown")
        try:
            if await projections.availability(runtime.pool, stream) is None:
                raise errors.MeetingNotFoundError(stream)
        except BaseException:
            slot.release()
            raise

        async def events() -> AsyncIterator[dict[str, str]]:
            try:
                async with availability_feed.listen(stream) as changes:
                    async for row in changes:
                        data = s.Availability.model_validate(row).model_dump(mode="json")
                        yield {"event": "availability", "data": orjson.dumps(data).decode()}
            finally:
                slot.release()

        body = events()
        weakref.finalize(body, slot.release)  # a stream that never started gives it back too
        return EventSourceResponse(body, ping=15)

    municipalities = APIRouter(tags=["municipalities"])

    @municipalities.get(
        "/municipalities/{code}/registrations",
        response_model=list[s.MunicipalityRegistration],
        summary="A municipality's registrations, a page at a time",
        description=PAGED,
        responses={400: PROBLEM, 422: PROBLEM},
    )
    async def municipality_registrations(
        principal: OperatorOrCoordinator,
        code: str,
        response: Response,
        limit: PageLimit = 100,
        cursor: PageCursor = None,
    ) -> list[s.MunicipalityRegistration]:
        if not (len(code) == 3 and code.isdigit()):
            raise ProblemError(
                422,
                "invalid-municipality-code",
                "Ugyldig kommunekode",
                "Kommunekoden skal være tre cifre, fx 101.",
                "The municipality code must be three digits, e.g. 101.",
            )
        allow(principal.acts_for(code))
        rows, keys = await projections.municipality_registrations_page(
            runtime.pool, code, limit=limit + 1, after=decode_cursor(cursor, 3)
        )
        shown = page(rows, keys, limit, response)
        return [s.MunicipalityRegistration.model_validate(r) for r in shown]

    app.include_router(router)
    app.include_router(municipalities)
    app.include_router(privacy_router(erasure))
    return app
