"""Routes of seat availability: now, and live (Server-Sent Events)."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from sse_starlette.sse import EventSourceResponse

from services.events.adapters.projections import queries
from services.events.domain import errors
from services.events.entrypoints import schemas as s
from services.events.entrypoints.dependencies import MEETING_ANSWERS, PROBLEM, MeetingRef, Wired
from services.events.service_layer.batching import stream_id_of

router = APIRouter(tags=["meetings"], responses=MEETING_ANSWERS)


@router.get(
    "/meetings/{meeting_id}/availability",
    response_model=s.Availability,
    summary="Seat availability (projection)",
)
async def get_availability(meeting_id: MeetingRef, wired: Wired) -> s.Availability:
    row = await queries.availability(wired.pool(), stream_id_of(meeting_id))
    if row is None:
        raise errors.MeetingNotFoundError(stream_id_of(meeting_id))
    return s.Availability.model_validate(row)


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
    wired: Wired,
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
    slot = wired.stream_limits.admit(request.client.host if request.client else "unknown")
    try:
        if await queries.availability(wired.pool(), stream) is None:
            raise errors.MeetingNotFoundError(stream)
    except BaseException:
        slot.release()
        raise

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            async with wired.availability.listen(stream) as changes:
                async for row in changes:
                    data = s.Availability.model_validate(row).model_dump(mode="json")
                    yield {"event": "availability", "data": orjson.dumps(data).decode()}
        finally:
            slot.release()

    body = events()
    weakref.finalize(body, slot.release)  # a stream that never started gives it back too
    return EventSourceResponse(body, ping=15)
