"""Routes of meetings: schedule one, the upcoming ones, one meeting, and the commands on it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.events.adapters.projections import queries
from services.events.domain.model import AgendaItem, MeetingDetails
from services.events.entrypoints import answers
from services.events.entrypoints import schemas as s
from services.events.entrypoints.dependencies import (
    MEETING_ANSWERS,
    Handlers,
    IdempotencyKey,
    MeetingRef,
    Wired,
)
from services.events.service_layer.handlers import Asked
from services.kernel.auth import Operator

router = APIRouter(tags=["meetings"], responses=MEETING_ANSWERS)


@router.post(
    "/meetings",
    status_code=201,
    response_model=s.MeetingResponse,
    summary="Schedule a meeting",
)
async def schedule_meeting(
    principal: Operator,
    body: s.ScheduleMeetingRequest,
    handlers: Handlers,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    asked = Asked(principal, idempotency_key, body.model_dump(mode="json"))
    details = MeetingDetails(**body.model_dump(exclude={"slug"}))
    reply = await handlers.schedule_meeting(asked, body.slug, details, answers.the_meeting(201))
    return answers.answer(reply)


@router.get("/meetings", response_model=list[s.UpcomingMeeting], summary="Upcoming meetings")
async def upcoming(wired: Wired) -> list[s.UpcomingMeeting]:
    rows = await queries.upcoming_meetings(wired.pool(), wired.clock.now())
    return [s.UpcomingMeeting.model_validate(r) for r in rows]


@router.get("/meetings/{meeting_id}", response_model=s.MeetingResponse, summary="A meeting")
async def get_meeting(meeting_id: MeetingRef, wired: Wired) -> JSONResponse:
    version, meeting = await wired.meetings.meeting(meeting_id)
    return JSONResponse(answers.meeting_body(meeting, version))


@router.put(
    "/meetings/{meeting_id}/program",
    response_model=s.MeetingResponse,
    summary="Publish or change the program",
)
async def publish_program(
    principal: Operator,
    meeting_id: MeetingRef,
    body: s.ProgramRequest,
    handlers: Handlers,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    asked = Asked(principal, idempotency_key, body.model_dump(mode="json"))
    items = [AgendaItem(i.starts_at, i.title, i.speaker) for i in body.items]
    reply = await handlers.publish_program(asked, meeting_id, items, answers.the_meeting(200))
    return answers.answer(reply)


@router.post(
    "/meetings/{meeting_id}/reschedule",
    response_model=s.MeetingResponse,
    summary="Move the meeting in time (or place)",
)
async def reschedule(
    principal: Operator,
    meeting_id: MeetingRef,
    body: s.RescheduleRequest,
    handlers: Handlers,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    asked = Asked(principal, idempotency_key, body.model_dump(mode="json"))
    render = answers.the_meeting(200)
    reply = await handlers.reschedule_meeting(asked, meeting_id, **body.model_dump(), render=render)
    return answers.answer(reply)


@router.post(
    "/meetings/{meeting_id}/seats",
    response_model=s.SeatsResponse,
    summary="Raise or lower the number of seats",
)
async def change_seats(
    principal: Operator,
    meeting_id: MeetingRef,
    body: s.SeatsRequest,
    handlers: Handlers,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    asked = Asked(principal, idempotency_key, body.model_dump())
    return answers.answer(await handlers.change_seats(asked, meeting_id, body.seats, answers.seats))


@router.post(
    "/meetings/{meeting_id}/offer",
    response_model=s.MeetingResponse,
    summary='Mark or unmark the offer "next year\'s members attend free"',
)
async def change_offer(
    principal: Operator,
    meeting_id: MeetingRef,
    body: s.OfferRequest,
    handlers: Handlers,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    asked = Asked(principal, idempotency_key, body.model_dump())
    offer, render = body.next_year_members_free, answers.the_meeting(200)
    return answers.answer(await handlers.change_offer(asked, meeting_id, offer, render))


@router.post(
    "/meetings/{meeting_id}/cancel",
    response_model=s.MeetingResponse,
    summary="Cancel the meeting",
)
async def cancel_meeting(
    principal: Operator,
    meeting_id: MeetingRef,
    body: s.CancelMeetingRequest,
    handlers: Handlers,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    asked = Asked(principal, idempotency_key, body.model_dump())
    render = answers.the_meeting(200)
    return answers.answer(await handlers.cancel_meeting(asked, meeting_id, body.reason, render))
