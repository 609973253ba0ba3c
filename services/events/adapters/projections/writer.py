"""Applying meetings events to the read models, a batch in a few set-based statements."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

import asyncpg
import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts import meetings as wire
from contracts.base import registry
from services.events.domain.model import DEFAULTS, DETAILS, TIMES
from services.kernel.privacy import ERASED, SealError, Vault, open_sealed

log = structlog.get_logger(__name__)

AVAILABILITY_CHANNEL = "events_availability"


def _ts(value: Any) -> datetime | None:
    """A timestamp from the event's JSON (ISO 8601 text) or from a payload (datetime)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


_INSERT_PARTICIPANTS = """
    INSERT INTO participant_view (registration_id, meeting_id, name, email, job_title,
        municipality_code, note, basis, price_dkk, status, wait_seq, registered_at,
        cancelled_by, attended, person_id, erased)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
        $6::text[], $7::text[], $8::text[], $9::int[], $10::text[], $11::bigint[],
        $12::timestamptz[], $13::text[], $14::bool[], $15::text[], $16::bool[])
    ON CONFLICT DO NOTHING"""

_UPDATE_PARTICIPANTS = """
    UPDATE participant_view v SET
        status = coalesce(u.status, v.status),
        wait_seq = CASE WHEN u.status IS NULL THEN v.wait_seq END,
        cancelled_by = coalesce(u.cancelled_by, v.cancelled_by),
        attended = coalesce(u.attended, v.attended)
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[])
         AS u(registration_id, status, cancelled_by, attended)
    WHERE v.registration_id = u.registration_id"""

_PARTICIPANT_COLUMNS = (
    "registration_id",
    "meeting_id",
    "name",
    "email",
    "job_title",
    "municipality_code",
    "note",
    "basis",
    "price_dkk",
    "status",
    "wait_seq",
    "registered_at",
    "cancelled_by",
    "attended",
    "person_id",
    "erased",
)
_PARTICIPANT_ROW = itemgetter(*_PARTICIPANT_COLUMNS)


def _personal(person: dict[str, Any] | None) -> dict[str, Any]:
    """The personal columns of a participant row: opened, or the erased marker."""
    if person is None:
        return {"name": ERASED, "email": None, "job_title": None, "note": None, "erased": True}
    return {
        "name": person["name"],
        "email": person["email"],
        "job_title": person["job_title"],
        "note": person.get("note"),
        "erased": False,
    }


async def open_participants(
    vault: Vault, datas: Sequence[dict[str, Any]]
) -> dict[str, dict[str, Any] | None]:
    """Registration id -> opened personal fields (None: erased), one key round trip.

    A sealed text that does not open (tampered, or sealed for someone else) is shown as
    erased: it is unreadable for everyone, and the seat it stands for still counts.
    """
    items = [(d["participant"]["person_id"], d["participant"]["sealed"]) for d in datas]
    keys = await vault.keys(pid for pid, _ in items)
    opened: dict[str, dict[str, Any] | None] = {}
    ciphers: dict[bytes, AESGCM] = {}
    for d, (pid, sealed) in zip(datas, items, strict=True):
        key = keys.get(pid)
        try:
            opened[d["registration_id"]] = (
                None if key is None else open_sealed(pid, key, sealed, ciphers)
            )
        except SealError:
            log.warning("sealed participant does not open", registration_id=d["registration_id"])
            opened[d["registration_id"]] = None
    return opened


class _Batch:
    """Participant changes of a run of events, written in a few statements.

    New registrations wait in ``inserts`` (in event order); a later promotion, cancellation
    or attendance of one of them changes the waiting row, and of an older one goes to
    ``updates`` (later changes of the same row overwrite earlier ones, field by field, as
    the statements one by one would). Waiting-list sequence numbers are drawn in event
    order when the inserts are written, so the order equals one-by-one application.
    """

    def __init__(self, copy: bool = False) -> None:
        self.copy = copy
        self.inserts: dict[str, dict[str, Any]] = {}
        self.updates: dict[str, dict[str, Any]] = {}
        self.touched: set[str] = set()

    def register(self, data: dict[str, Any], waiting: bool, person: dict[str, Any] | None) -> None:
        """``person``: the opened personal fields, None when the person is erased."""
        p = data["participant"]
        rid = data["registration_id"]
        if rid in self.inserts:
            return  # ON CONFLICT DO NOTHING, as the database would
        self.inserts[rid] = {
            "registration_id": rid,
            "meeting_id": data["meeting_id"],
            **_personal(person),
            "municipality_code": p["municipality_code"],
            "person_id": p["person_id"],
            "basis": data["basis"],
            "price_dkk": data["price_dkk"],
            "status": "waitlisted" if waiting else "confirmed",
            "wait_seq": waiting,
            "registered_at": _ts(data["occurred_at"]),
            "cancelled_by": None,
            "attended": None,
        }

    def change(self, rid: str, **fields: Any) -> None:
        row = self.inserts.get(rid)
        if row is not None:
            if "status" in fields:
                row["wait_seq"] = False
            row.update(fields)
            return
        self.updates.setdefault(rid, {}).update(fields)

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.inserts:
            rows = list(self.inserts.values())
            waiting = [r for r in rows if r["wait_seq"] is True]
            seqs: list[int] = []
            if waiting:
                seqs = sorted(
                    r[0]
                    for r in await conn.fetch(
                        "SELECT nextval('participant_wait_seq') FROM generate_series(1, $1)",
                        len(waiting),
                    )
                )
            for row, seq in zip(waiting, seqs, strict=True):
                row["wait_seq"] = seq
            for row in rows:
                if row["wait_seq"] is False:
                    row["wait_seq"] = None
            if self.copy:
                # Into tables emptied in this transaction (a rebuild): no row can exist yet,
                # and COPY is several times faster than INSERT for a million rows.
                await conn.copy_records_to_table(
                    "participant_view",
                    records=list(map(_PARTICIPANT_ROW, rows)),
                    columns=_PARTICIPANT_COLUMNS,
                )
            else:
                await conn.execute(
                    _INSERT_PARTICIPANTS, *map(list, zip(*map(_PARTICIPANT_ROW, rows), strict=True))
                )
            # A person whose erasure this service has already seen (its event can arrive
            # before the registration's: they travel on different topics), or sees while
            # this transaction runs (see scrub_person), is shown erased even when the key
            # was still at hand a moment ago.
            await conn.execute(
                _SCRUB + " AND registration_id = ANY($3::text[])"
                " AND EXISTS (SELECT 1 FROM erased_persons)"
                " AND person_id IN (SELECT person_id FROM erased_persons)",
                None,
                ERASED,
                [r["registration_id"] for r in rows if not r["erased"]],
            )
            self.inserts.clear()
        if self.updates:
            ids = list(self.updates)
            fields = [self.updates[i] for i in ids]
            await conn.execute(
                _UPDATE_PARTICIPANTS,
                ids,
                [f.get("status") for f in fields],
                [f.get("cancelled_by") for f in fields],
                [f.get("attended") for f in fields],
            )
            self.updates.clear()


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
        values.append(_ts(value) if name in TIMES else value)
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
            _ts(d["starts_at"]),
            _ts(d["ends_at"]),
            _ts(d["registration_deadline"]),
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
    set-based statements (see :class:`_Batch`); the availability of every meeting touched
    is counted once at the end (``refresh=False`` leaves that to the caller). Events of
    other types are skipped. ``copy=True`` (the rebuild, into emptied tables) writes new
    registrations with COPY.
    """
    batch = _Batch(copy)
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


_SCRUB = """UPDATE participant_view SET name = $2, email = NULL, job_title = NULL, note = NULL,
               erased = true
           WHERE (person_id = $1 OR $1 IS NULL) AND NOT erased"""


async def scrub_person(conn: asyncpg.Connection, person_id: str) -> int:
    """Replace an erased person's data in the participant list by the erased marker;
    status, basis, price and waiting order stay. How many rows.

    The lock waits for projection transactions that are writing participants right now
    (they may have opened this person's data with a key fetched before the erasure) and
    makes new ones wait for this one; those see ``erased_persons`` (see ``_Batch.flush``).
    """
    await conn.execute("LOCK TABLE participant_view IN SHARE ROW EXCLUSIVE MODE")
    await conn.execute(
        "INSERT INTO erased_persons (person_id) VALUES ($1) ON CONFLICT DO NOTHING", person_id
    )
    status: str = await conn.execute(_SCRUB, person_id, ERASED)
    return int(status.split()[-1])


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
