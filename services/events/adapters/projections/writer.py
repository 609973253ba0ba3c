"""Applying meetings events to the read models, a batch in a few set-based statements."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from contracts import meetings as wire
from contracts.base import registry
from services.events.adapters.projections.participants import (
    ParticipantBatch,
    open_participants,
    timestamp,
)
from services.events.domain.model import DEFAULTS, DETAILS, TIMES
from services.kernel.privacy import Vault

AVAILABILITY_CHANNEL = "events_availability"


_INSERT_MEETING = f"""
    INSERT INTO meeting_view (meeting_id, {", ".join(DETAILS)})
    VALUES ({", ".join(f"${n}" for n in range(1, len(DETAILS) + 2))})
    ON CONFLICT DO NOTHING"""
"""A scheduled meeting's row: its id and its own fields (``MeetingDetails``), by column."""


def _details(d: dict[str, Any]) -> list[Any]:
    """The meeting's own fields of a ``MeetingScheduled``'s data (times as datetimes)."""
    values: list[Any] = []
    for name in DETAILS:
        value = d.get(name, DEFAULTS[name]) if name in DEFAULTS else d[name]
        values.append(timestamp(value) if name in TIMES else value)
    return values


_SCHEDULED = wire.MeetingScheduled.type_name()
_PROGRAM = wire.MeetingProgramPublished.type_name()
_RESCHEDULED = wire.MeetingRescheduled.type_name()
_SEATS = wire.MeetingSeatsChanged.type_name()
_OFFER = wire.MeetingOfferChanged.type_name()
_CANCELLED = wire.MeetingCancelled.type_name()
_CONFIRMED = wire.RegistrationConfirmed.type_name()
_WAITLISTED = wire.RegistrationWaitlisted.type_name()
_PROMOTED = wire.RegistrationPromoted.type_name()
_REG_CANCELLED = wire.RegistrationCancelled.type_name()
_ATTENDANCE = wire.AttendanceRecorded.type_name()
MEETING_EVENT_TYPES = frozenset(
    m.type_name()
    for m in registry.types().values()
    if m.topic == wire.MEETING_TOPIC and not m.retired
)


async def _apply_meeting_event(conn: asyncpg.Connection, type_: str, d: dict[str, Any]) -> None:
    """The events that change a meeting itself (rare): one statement or two each."""
    mid = d["meeting_id"]
    if type_ == _SCHEDULED:
        await conn.execute(_INSERT_MEETING, mid, *_details(d))
        await conn.execute(
            """INSERT INTO availability_view (meeting_id, seats) VALUES ($1, $2)
               ON CONFLICT DO NOTHING""",
            mid,
            d["seats"],
        )
    elif type_ == _PROGRAM:
        items = [
            wire.AgendaItem.model_validate(item).model_dump(mode="json") for item in d["items"]
        ]
        await conn.execute("UPDATE meeting_view SET program = $2 WHERE meeting_id = $1", mid, items)
    elif type_ == _RESCHEDULED:
        await conn.execute(
            """UPDATE meeting_view SET starts_at = $2, ends_at = $3,
                   registration_deadline = $4, venue_name = $5, venue_address = $6
               WHERE meeting_id = $1""",
            mid,
            timestamp(d["starts_at"]),
            timestamp(d["ends_at"]),
            timestamp(d["registration_deadline"]),
            d["venue_name"],
            d["venue_address"],
        )
    elif type_ == _SEATS:
        await conn.execute(
            "UPDATE meeting_view SET seats = $2 WHERE meeting_id = $1", mid, d["seats"]
        )
        await conn.execute(
            "UPDATE availability_view SET seats = $2 WHERE meeting_id = $1", mid, d["seats"]
        )
    elif type_ == _OFFER:
        await conn.execute(
            "UPDATE meeting_view SET next_year_members_free = $2 WHERE meeting_id = $1",
            mid,
            d["next_year_members_free"],
        )
    elif type_ == _CANCELLED:
        await conn.execute(
            "UPDATE meeting_view SET cancelled = true, cancel_reason = $2 WHERE meeting_id = $1",
            mid,
            d["reason"],
        )
        await conn.execute(
            "UPDATE availability_view SET cancelled = true WHERE meeting_id = $1", mid
        )


async def apply_many(
    conn: asyncpg.Connection,
    events: Iterable[tuple[str, dict[str, Any]]],
    *,
    vault: Vault,
    refresh: bool = True,
    copy: bool = False,
) -> int:
    """Apply meetings events, given as (CloudEvents type, JSON data), in order; how many.

    The live subscriber and the rebuild both come here, so a rebuild gives what the live
    projection gives. Registrations and their changes are gathered and written in a few
    set-based statements (see :class:`.participants.ParticipantBatch`); the availability of
    every meeting touched is counted once at the end (``refresh=False`` leaves that to the
    caller). Events of other types are skipped. ``copy=True`` (the rebuild, into emptied
    tables) writes new registrations with COPY.
    """
    batch = ParticipantBatch(copy)
    applied = 0
    events = list(events)
    people = await open_participants(
        vault, [d for type_, d in events if type_ in (_CONFIRMED, _WAITLISTED)]
    )
    for type_, d in events:
        if type_ not in MEETING_EVENT_TYPES:
            continue
        applied += 1
        batch.touched.add(d["meeting_id"])
        if type_ in (_CONFIRMED, _WAITLISTED):
            batch.register(d, waiting=type_ == _WAITLISTED, person=people[d["registration_id"]])
        elif type_ == _PROMOTED:
            batch.change(d["registration_id"], status="confirmed")
        elif type_ == _REG_CANCELLED:
            batch.change(d["registration_id"], status="cancelled", cancelled_by=d["cancelled_by"])
        elif type_ == _ATTENDANCE:
            batch.change(d["registration_id"], attended=d["attended"])
        else:
            await _apply_meeting_event(conn, type_, d)
    await batch.flush(conn)
    if refresh and batch.touched:
        await refresh_availability(conn, sorted(batch.touched))
    return applied


def registered_and_moved(
    events: Iterable[tuple[str, dict[str, Any]]],
) -> tuple[list[tuple[str, str]], set[str]]:
    """(person id, meeting id) of every registration among ``events``, and the meetings
    that moved: what retention needs to know of them."""
    registered: list[tuple[str, str]] = []
    moved: set[str] = set()
    for type_, d in events:
        if type_ in (_CONFIRMED, _WAITLISTED):
            registered.append((d["participant"]["person_id"], d["meeting_id"]))
        elif type_ == _RESCHEDULED:
            moved.add(d["meeting_id"])
    return registered, moved


async def refresh_availability(
    conn: asyncpg.Connection, meeting_ids: Sequence[str] | None = None
) -> None:
    """Count taken, waiting and offer seats of the meetings (all when None) again."""
    await conn.execute(
        """UPDATE availability_view a SET
               taken = coalesce(c.taken, 0), waiting = coalesce(c.waiting, 0),
               offer_taken = coalesce(c.offer_taken, 0), changes = a.changes + 1
           FROM (SELECT m.meeting_id, c.taken, c.waiting, c.offer_taken
                 FROM unnest($1::text[]) AS m(meeting_id)
                 LEFT JOIN LATERAL (
                     SELECT count(*) FILTER (WHERE status = 'confirmed') AS taken,
                            count(*) FILTER (WHERE status = 'waitlisted') AS waiting,
                            count(*) FILTER (WHERE status = 'confirmed'
                                             AND basis = 'next_year_offer') AS offer_taken
                     FROM participant_view v WHERE v.meeting_id = m.meeting_id) c ON true
                ) c
           WHERE a.meeting_id = c.meeting_id""",
        list(meeting_ids)
        if meeting_ids is not None
        else [r[0] for r in await conn.fetch("SELECT meeting_id FROM availability_view")],
    )
    if meeting_ids is not None:
        await conn.execute(
            "SELECT pg_notify($1, m) FROM unnest($2::text[]) AS m",
            AVAILABILITY_CHANNEL,
            list(meeting_ids),
        )
