"""Contract <-> domain translation, at the edge: the domain never sees a contract model."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from contracts import meetings as wire
from contracts.base import EventPayload, registry
from services.events.domain import events as e
from services.events.domain.model import (
    DETAILS,
    TIMES,
    AgendaItem,
    Meeting,
    Participant,
    Registration,
    details_of,
)
from services.kernel.eventstore import NewEvent, RecordedEvent

CONTRACT_OF: dict[type[e.Event], type[EventPayload]] = {
    e.MeetingScheduled: wire.MeetingScheduled,
    e.MeetingProgramPublished: wire.MeetingProgramPublished,
    e.MeetingRescheduled: wire.MeetingRescheduled,
    e.MeetingSeatsChanged: wire.MeetingSeatsChanged,
    e.MeetingOfferChanged: wire.MeetingOfferChanged,
    e.MeetingCancelled: wire.MeetingCancelled,
    e.RegistrationConfirmed: wire.RegistrationConfirmed,
    e.RegistrationWaitlisted: wire.RegistrationWaitlisted,
    e.RegistrationPromoted: wire.RegistrationPromoted,
    e.RegistrationCancelled: wire.RegistrationCancelled,
    e.AttendanceRecorded: wire.AttendanceRecorded,
}
DOMAIN_OF: dict[type[EventPayload], type[e.Event]] = {v: k for k, v in CONTRACT_OF.items()}


_TRUSTED: frozenset[type[e.Event]] = frozenset(
    {
        e.RegistrationConfirmed,
        e.RegistrationWaitlisted,
        e.RegistrationPromoted,
        e.RegistrationCancelled,
    }
)
"""The events of a rush, built without validating them again (see :func:`to_contract`)."""


def to_contract(event: e.Event) -> EventPayload:
    """The wire payload of a domain event.

    Registration events are built without validation: ``decide`` makes them from commands
    whose input the HTTP edge validated (the e-mail check alone costs tens of microseconds,
    thousands of times a second in a rush); they serialise exactly as validated ones.
    """
    model = CONTRACT_OF[type(event)]
    if type(event) in _TRUSTED:
        values = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
        values["participant"] = wire.SealedParticipant.model_construct(
            **dataclasses.asdict(values["participant"])
        )
        return model.model_construct(**values)
    return model.model_validate(dataclasses.asdict(event))


def to_new_event(event: e.Event) -> NewEvent:
    payload = to_contract(event)
    return NewEvent(type(payload).type_name(), payload.to_data())


def from_contract(payload: EventPayload) -> e.Event:
    """The domain event of a wire payload (of the meetings topic)."""
    cls = DOMAIN_OF[type(payload)]
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        value = getattr(payload, f.name)
        if f.name == "participant":
            value = Participant(**value.model_dump())
        elif f.name == "items":
            value = tuple(AgendaItem(**item.model_dump()) for item in value)
        values[f.name] = value
    return cls(**values)


def from_record(record: RecordedEvent) -> e.Event:
    return from_contract(registry.parse(record.type, record.data))


# --- snapshots: the meeting state as JSON -------------------------------------------------


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


SNAPSHOT_FORMAT = 2
"""Snapshots of format 1 held participants in clear; they are not read (see docs/privacy.md)."""


def meeting_to_json(m: Meeting) -> dict[str, Any]:
    """The state as a JSON object for the kernel's snapshot table."""
    details = details_of(m)
    return {
        "meeting_id": m.meeting_id,
        **{k: v.isoformat() if k in TIMES else v for k, v in details.items()},
        "program": [
            {"starts_at": i.starts_at.isoformat(), "title": i.title, "speaker": i.speaker}
            for i in m.program
        ],
        "cancelled": m.cancelled,
        "cancel_reason": m.cancel_reason,
        # Registrations in insertion (arrival) order; the waiting list in its own order.
        # Participants as the events carry them: person id and sealed data, never in clear.
        "format": SNAPSHOT_FORMAT,
        "registrations": [
            [
                r.registration_id,
                r.participant.person_id,
                r.participant.municipality_code,
                r.participant.sealed,
                r.basis,
                r.price_dkk,
                r.status,
                r.attended,
            ]
            for r in m.registrations.values()
        ],
        "waitlist": list(m.waitlist),
    }


def _details(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _dt(data[k]) if k in TIMES else data[k] for k in DETAILS}


def meeting_from_json(data: dict[str, Any]) -> Meeting:
    m = Meeting(
        meeting_id=data["meeting_id"],
        **_details(data),
        program=tuple(
            AgendaItem(_dt(i["starts_at"]), i["title"], i["speaker"]) for i in data["program"]
        ),
        cancelled=data["cancelled"],
        cancel_reason=data["cancel_reason"],
        waitlist=list(data["waitlist"]),
    )
    for rid, person_id, code, sealed, basis, price, status, attended in data["registrations"]:
        m.registrations[rid] = Registration(
            registration_id=rid,
            participant=Participant(person_id, code, sealed),
            basis=basis,
            price_dkk=price,
            status=status,
            attended=attended,
        )
    m.reindex()
    return m
