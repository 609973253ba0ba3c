"""Routes of registrations: register, the participant list, cancel, attendance, and a
municipality's registrations."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from services.events.adapters.projections import queries
from services.events.entrypoints import answers
from services.events.entrypoints import schemas as s
from services.events.entrypoints.dependencies import (
    MEETING_ANSWERS,
    PAGED,
    PROBLEM,
    Handlers,
    IdempotencyKey,
    MeetingRef,
    RegistrationRef,
    Wired,
)
from services.events.service_layer.batching import stream_id_of
from services.events.service_layer.handlers import Asked, Registrant
from services.kernel.auth import AnyRole, Operator, OperatorOrCoordinator
from services.kernel.http import ProblemError
from services.kernel.paging import PageCursor, PageLimit, decode_cursor, page
from services.kernel.principal import allow

router = APIRouter(tags=["meetings"], responses=MEETING_ANSWERS)
municipalities = APIRouter(tags=["municipalities"])


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
    handlers: Handlers,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    asked = Asked(principal, idempotency_key, body.model_dump(mode="json"))
    registrant = Registrant(**{**body.model_dump(), "email": str(body.email)})
    reply = await handlers.register(asked, meeting_id, registrant, answers.registration)
    return answers.answer(reply)


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
    wired: Wired,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> list[s.ParticipantRow]:
    stream = stream_id_of(meeting_id)
    after = decode_cursor(cursor, 4)
    await wired.meetings.header(stream)  # 404 for an unknown meeting
    rows, keys = await queries.participants_page(wired.pool(), stream, limit=limit + 1, after=after)
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
    handlers: Handlers,
    body: s.CancelRegistrationRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    asked = Asked(principal, idempotency_key, None)  # the handler says what was asked
    cancelled_by = (body or s.CancelRegistrationRequest()).cancelled_by
    reply = await handlers.cancel_registration(
        asked, meeting_id, registration_id, cancelled_by, answers.cancellation
    )
    return answers.answer(reply)


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
    handlers: Handlers,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    asked = Asked(
        principal, idempotency_key, {"registration_id": registration_id, **body.model_dump()}
    )
    reply = await handlers.record_attendance(
        asked, meeting_id, registration_id, body.attended, answers.attendance
    )
    return answers.answer(reply)


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
    wired: Wired,
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
    rows, keys = await queries.municipality_registrations_page(
        wired.pool(), code, limit=limit + 1, after=decode_cursor(cursor, 3)
    )
    shown = page(rows, keys, limit, response)
    return [s.MunicipalityRegistration.model_validate(r) for r in shown]
