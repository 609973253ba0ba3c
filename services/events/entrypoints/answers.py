"""The answers to commands on meetings: each ``Render`` turns a command's events and the
meeting after them into (status, JSON body), inside the decision."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from services.events.domain import events as e
from services.events.domain.model import Meeting, details_of
from services.events.entrypoints import schemas as s
from services.events.service_layer.batching import Render
from services.events.service_layer.ports import Reply


def meeting_body(m: Meeting, version: int | None = None) -> dict[str, Any]:
    body = s.MeetingResponse(
        meeting_id=m.meeting_id,
        **details_of(m),
        seats_taken=m.seats_taken,
        offer_seats_taken=m.offer_seats_taken,
        free_seats=m.free_seats,
        waiting=len(m.waitlist),
        program=[
            s.AgendaItemModel(starts_at=i.starts_at, title=i.title, speaker=i.speaker)
            for i in m.program
        ],
        cancelled=m.cancelled,
        cancel_reason=m.cancel_reason,
        version=version,
    )
    return body.model_dump(mode="json")


def the_meeting(status: int) -> Render:
    """The meeting after the command, with ``status``."""

    def render(_: list[e.Event], m: Meeting) -> tuple[int, Any]:
        return status, meeting_body(m)

    return render


def registration(evs: list[e.Event], m: Meeting) -> tuple[int, Any]:
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


def cancellation(evs: list[e.Event], _: Meeting) -> tuple[int, Any]:
    cancelled = next(ev for ev in evs if isinstance(ev, e.RegistrationCancelled))
    body = s.CancelRegistrationResponse(
        registration_id=cancelled.registration_id, status="cancelled", promoted=_promoted(evs)
    )
    return 200, body.model_dump(mode="json")


def seats(evs: list[e.Event], m: Meeting) -> tuple[int, Any]:
    body = s.SeatsResponse(meeting_id=m.meeting_id, seats=m.seats, promoted=_promoted(evs))
    return 200, body.model_dump(mode="json")


def attendance(evs: list[e.Event], _: Meeting) -> tuple[int, Any]:
    [event] = evs
    assert isinstance(event, e.AttendanceRecorded)
    body = s.AttendanceResponse(registration_id=event.registration_id, attended=event.attended)
    return 200, body.model_dump(mode="json")


def answer(reply: Reply) -> JSONResponse:
    """The HTTP answer of a decided (or replayed) command."""
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)
