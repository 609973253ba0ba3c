"""Read models of meetings fed by the meetings topic, and their rebuild from the event store.

- ``meeting_view``: each meeting with its program (upcoming meetings for front ends);
- ``participant_view``: every registration with its status (the operators' participant
  list, a municipality's registrations); waiting positions are computed when read;
- ``availability_view``: seats, taken, free, waiting and seats taken under the offer.

The same :func:`apply` serves the Kafka subscriber and :func:`rebuild`, so a rebuild gives
what the live projection gives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

import asyncpg
import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts import meetings as wire
from contracts.base import EventPayload, registry
from services.kernel.db import Migration, exclusively, lock_tables
from services.kernel.eventstore import EventStore
from services.kernel.privacy import ERASED, SealError, Vault, open_sealed
from services.kernel.subscriber import BatchHandler, Handler, InboundEvent

log = structlog.get_logger(__name__)

AVAILABILITY_CHANNEL = "events_availability"

MIGRATIONS = (
    Migration(
        "events-0002-projections",
        """
        CREATE TABLE meeting_view (
            meeting_id             TEXT PRIMARY KEY,
            network_slug           TEXT NOT NULL,
            year                   INTEGER NOT NULL,
            title                  TEXT NOT NULL,
            description            TEXT NOT NULL,
            starts_at              TIMESTAMPTZ NOT NULL,
            ends_at                TIMESTAMPTZ NOT NULL,
            venue_name             TEXT NOT NULL,
            venue_address          TEXT NOT NULL,
            seats                  INTEGER NOT NULL,
            registration_deadline  TIMESTAMPTZ NOT NULL,
            per_municipality_cap   INTEGER,
            guest_price_dkk        INTEGER,
            next_year_members_free BOOLEAN NOT NULL,
            program                JSONB NOT NULL DEFAULT '[]',
            cancelled              BOOLEAN NOT NULL DEFAULT false,
            cancel_reason          TEXT
        );
        CREATE INDEX meeting_view_starts ON meeting_view (starts_at);
        CREATE TABLE availability_view (
            meeting_id  TEXT PRIMARY KEY,
            seats       INTEGER NOT NULL,
            taken       INTEGER NOT NULL DEFAULT 0,
            waiting     INTEGER NOT NULL DEFAULT 0,
            offer_taken INTEGER NOT NULL DEFAULT 0,
            cancelled   BOOLEAN NOT NULL DEFAULT false,
            changes     BIGINT NOT NULL DEFAULT 0
        );
        CREATE SEQUENCE participant_wait_seq;
        CREATE TABLE participant_view (
            registration_id   TEXT PRIMARY KEY,
            meeting_id        TEXT NOT NULL,
            name              TEXT NOT NULL,
            email             TEXT NOT NULL,
            job_title         TEXT NOT NULL,
            municipality_code TEXT NOT NULL,
            note              TEXT,
            basis             TEXT NOT NULL,
            price_dkk         INTEGER NOT NULL,
            status            TEXT NOT NULL,
            wait_seq          BIGINT,
            cancelled_by      TEXT,
            attended          BOOLEAN,
            registered_at     TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX participant_view_meeting ON participant_view (meeting_id, status);
        CREATE INDEX participant_view_municipality ON participant_view (municipality_code);
        """,
    ),
    Migration(
        "events-0003-participants-sealed",
        """
        ALTER TABLE participant_view ADD COLUMN person_id TEXT;
        ALTER TABLE participant_view ADD COLUMN erased BOOLEAN NOT NULL DEFAULT false;
        ALTER TABLE participant_view ALTER COLUMN email DROP NOT NULL;
        ALTER TABLE participant_view ALTER COLUMN job_title DROP NOT NULL;
        CREATE INDEX participant_view_person ON participant_view (person_id);
        """,
    ),
    Migration(
        "events-0004-erased-persons",
        """
        CREATE TABLE erased_persons (
            person_id TEXT PRIMARY KEY,
            erased_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        """,
    ),
)

PROJECTION_TABLES = ("meeting_view", "availability_view", "participant_view")

READ_MODELS_GUARD = "events-read-models"
"""Every transaction that writes the read models takes this advisory lock shared first
(the subscriptions' ``guard``); :func:`rebuild` holds it exclusively."""


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
        await conn.execute(
            """INSERT INTO meeting_view (meeting_id, network_slug, year, title, description,
                   starts_at, ends_at, venue_name, venue_address, seats,
                   registration_deadline, per_municipality_cap, guest_price_dkk,
                   next_year_members_free)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)
               ON CONFLICT DO NOTHING""",
            mid,
            d["network_slug"],
            d["year"],
            d["title"],
            d["description"],
            _ts(d["starts_at"]),
            _ts(d["ends_at"]),
            d["venue_name"],
            d["venue_address"],
            d["seats"],
            _ts(d["registration_deadline"]),
            d.get("per_municipality_cap"),
            d.get("guest_price_dkk"),
            d.get("next_year_members_free", False),
        )
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
    retention: timedelta | None = None,
    refresh: bool = True,
    copy: bool = False,
) -> int:
    """Apply meetings events, given as (CloudEvents type, JSON data), in order; how many.

    The live subscriber and the rebuild both come here, so a rebuild gives what the live
    projection gives. Registrations and their changes are gathered and written in a few
    set-based statements (see :class:`_Batch`); the availability of every meeting touched
    is counted once at the end (``refresh=False`` leaves that to the caller). Events of
    other types are skipped. ``copy=True`` (the rebuild, into emptied tables) writes new
    registrations with COPY. With ``retention``, each registered person gets a hold in the
    vault until the meeting's end plus ``retention``, and a moved meeting moves its holds.
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
    if retention is not None:
        await _hold_participants(conn, vault, retention, events)
    return applied


async def _hold_participants(
    conn: asyncpg.Connection,
    vault: Vault,
    retention: timedelta,
    events: Sequence[tuple[str, dict[str, Any]]],
) -> None:
    """Retention: a participant's data is kept until the meeting's end plus ``retention``
    (one vault round trip for the batch; moved meetings move their holds)."""
    registered = [
        (d["participant"]["person_id"], d["meeting_id"])
        for type_, d in events
        if type_ in (_CONFIRMED, _WAITLISTED)
    ]
    moved = {d["meeting_id"] for type_, d in events if type_ == _RESCHEDULED}
    meetings = sorted({m for _, m in registered} | moved)
    if not meetings:
        return
    ends = {
        r["meeting_id"]: r["ends_at"]
        for r in await conn.fetch(
            "SELECT meeting_id, ends_at FROM meeting_view WHERE meeting_id = ANY($1::text[])",
            meetings,
        )
    }
    await vault.retention.hold(
        [(pid, f"meeting:{mid}", ends[mid] + retention) for pid, mid in registered if mid in ends]
    )
    for mid in sorted(moved & set(ends)):
        await vault.retention.move_holds(f"meeting:{mid}", ends[mid] + retention)


async def apply(conn: asyncpg.Connection, payload: EventPayload, vault: Vault) -> None:
    """Apply one meetings event to the read models (inside the caller's transaction)."""
    await apply_many(conn, [(payload.type_name(), payload.to_data())], vault=vault)


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


def handlers(vault: Vault, retention: timedelta | None = None) -> tuple[Handler, BatchHandler]:
    """The subscriber's handlers for one meetings event and for a batch (one transaction)."""

    async def on_meeting_event(conn: asyncpg.Connection, event: InboundEvent) -> None:
        await apply_many(
            conn, [(event.envelope.type, event.envelope.data)], vault=vault, retention=retention
        )

    async def on_meeting_events(conn: asyncpg.Connection, events: Sequence[InboundEvent]) -> None:
        await apply_many(
            conn,
            [(ev.envelope.type, ev.envelope.data) for ev in events],
            vault=vault,
            retention=retention,
        )

    return on_meeting_event, on_meeting_events


REBUILD_PAGE = 5_000


async def _replay_page(
    conn: asyncpg.Connection, after_position: int, limit: int
) -> list[asyncpg.Record]:
    """(position, event_type, data) after a position, in the caller's snapshot.

    :meth:`EventStore.read_snapshot` with only the columns a rebuild needs: building a
    full ``RecordedEvent`` (metadata, time, transaction id) for a million events costs more
    than applying them.
    """
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT position, event_type, data FROM events
           WHERE position > $1 ORDER BY position LIMIT $2""",
        after_position,
        limit,
    )
    return rows


async def rebuild(
    pool: asyncpg.Pool,
    store: EventStore,
    consumer: str,
    vault: Vault,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rebuild the read models from the event store, while the service runs; return events.

    One transaction: lock the read models (the subscriber waits), empty them, replay every
    event with the same :func:`apply_many`, page by page (pages of
    ``REBUILD_PAGE`` events, so memory stays flat however long the history), and record
    every replayed event as processed by ``consumer``, so the subscriber does not apply
    again what the rebuild already did. ``progress`` is called with (events replayed, events in all)
    for a progress bar.
    """
    count = 0
    done = 0
    # One snapshot for every page (see EventStore.read_snapshot): read_all's cluster-wide
    # horizon would stop short while any long transaction runs on the server, and the
    # events past it, already consumed, would never come back.
    #
    # Writers of the read models (the meetings and privacy subscribers) are kept out by
    # the guard, taken before the transaction: one of them holding participant_view while
    # it waits for meeting_view, or a processed_events row the final INSERT needs, would
    # otherwise deadlock with this rebuild. Readers are given way to (see lock_tables).
    async with (
        pool.acquire() as conn,
        exclusively(conn, READ_MODELS_GUARD),
        conn.transaction(isolation="repeatable_read"),
    ):
        await lock_tables(conn, PROJECTION_TABLES)
        total: int = await conn.fetchval("SELECT count(*) FROM events")
        snapshot: str = await conn.fetchval("SELECT pg_export_snapshot()")
        await conn.execute(f"TRUNCATE {', '.join(PROJECTION_TABLES)}")
        await conn.execute("ALTER SEQUENCE participant_wait_seq RESTART")
        await conn.execute("DELETE FROM processed_events WHERE consumer = $1", consumer)
        # The participant list's secondary indexes are built once at the end (a sort)
        # rather than kept up to date row by row through the COPY of every page.
        indexes = await _drop_secondary_indexes(conn, "participant_view")
        # Pages are read on a second connection in the same snapshot, one page ahead: the
        # next page travels and is decoded while this connection's COPY of the last one
        # is still being written by the server.
        async with (
            pool.acquire() as reader,
            reader.transaction(isolation="repeatable_read", readonly=True),
        ):
            await reader.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            ahead = asyncio.ensure_future(_replay_page(reader, 0, REBUILD_PAGE))
            try:
                while page := await ahead:
                    ahead = asyncio.ensure_future(_replay_page(reader, page[-1][0], REBUILD_PAGE))
                    count += await apply_many(
                        conn, ((r[1], r[2]) for r in page), vault=vault, refresh=False, copy=True
                    )
                    done += len(page)
                    if progress is not None:
                        progress(done, max(total, done))
            finally:
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ahead
        for definition in indexes:
            await conn.execute(definition)
        # Every event of the snapshot was replayed: all of them are processed, in one
        # statement on the server. This consumer's rows were deleted above, and the
        # subscriber cannot commit a meetings event while the read models are locked, so
        # no row can conflict.
        await conn.execute(
            "INSERT INTO processed_events (consumer, event_id) SELECT $1, event_id FROM events",
            consumer,
        )
        await refresh_availability(conn)
    return count


async def _drop_secondary_indexes(conn: asyncpg.Connection, table: str) -> list[str]:
    """Drop the indexes of ``table`` other than its primary key (inside the caller's
    transaction, under its lock); their definitions, to create them again."""
    rows = await conn.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
           FROM pg_index i WHERE i.indrelid = $1::regclass AND NOT i.indisprimary""",
        table,
    )
    for row in rows:
        await conn.execute(f"DROP INDEX {row['name']}")
    return [row["def"] for row in rows]


# --- queries --------------------------------------------------------------------------------


async def availability(
    conn: asyncpg.Connection | asyncpg.Pool, meeting_id: str
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT meeting_id, seats, taken, waiting, offer_taken, cancelled, changes,
                  CASE WHEN cancelled THEN 0 ELSE greatest(seats - taken, 0) END AS free
           FROM availability_view WHERE meeting_id = $1""",
        meeting_id,
    )
    return None if row is None else dict(row)


async def all_availability(conn: asyncpg.Connection | asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT meeting_id, seats, taken, waiting, offer_taken, cancelled
           FROM availability_view ORDER BY meeting_id"""
    )
    return [dict(r) for r in rows]


def _ranked(where: str) -> str:
    """Participants of the meetings ``where`` selects, with their current waiting position."""
    return f"""(SELECT v.*, CASE WHEN v.status = 'waitlisted' THEN
                       row_number() OVER (PARTITION BY v.meeting_id, v.status ORDER BY v.wait_seq)
                   END AS waiting_position
                FROM participant_view v WHERE v.meeting_id IN ({where})) p"""


_COLUMNS = """p.registration_id, p.meeting_id, p.name, p.email, p.job_title,
    p.municipality_code, p.note, p.basis, p.price_dkk, p.status, p.attended, p.cancelled_by,
    p.waiting_position, p.erased"""


async def participants(
    conn: asyncpg.Connection | asyncpg.Pool, meeting_id: str
) -> list[dict[str, Any]]:
    """The meeting's participants: seated, then waiting in order, then cancelled."""
    rows, _ = await participants_page(conn, meeting_id)
    return rows


async def participants_page(
    conn: asyncpg.Connection | asyncpg.Pool,
    meeting_id: str,
    *,
    limit: int | None = None,
    after: Sequence[Any] | None = None,
) -> tuple[list[dict[str, Any]], list[list[Any]]]:
    """At most ``limit`` of :func:`participants` after the sort key ``after``, and each
    row's sort key (a cursor). Sorted by status, waiting order (``wait_seq``), time of
    registration and id: the list's own order."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS}, coalesce(p.wait_seq, 0) AS _wait_seq,
                   p.registered_at AS _registered_at
            FROM {_ranked("$1")}
            WHERE $2::text IS NULL
               OR (p.status, coalesce(p.wait_seq, 0), p.registered_at, p.registration_id)
                  > ($2::text, $3::bigint, $4::text::timestamptz, $5::text)
            ORDER BY p.status, coalesce(p.wait_seq, 0), p.registered_at, p.registration_id
            LIMIT $6""",
        meeting_id,
        *(after or (None, None, None, None)),
        limit,
    )
    keys = [
        [r["status"], r["_wait_seq"], r["_registered_at"].isoformat(), r["registration_id"]]
        for r in rows
    ]
    return [_without_keys(r) for r in rows], keys


async def municipality_registrations(
    conn: asyncpg.Connection | asyncpg.Pool, municipality_code: str
) -> list[dict[str, Any]]:
    """A municipality's registrations, by meeting start and time of registration."""
    rows, _ = await municipality_registrations_page(conn, municipality_code)
    return rows


async def municipality_registrations_page(
    conn: asyncpg.Connection | asyncpg.Pool,
    municipality_code: str,
    *,
    limit: int | None = None,
    after: Sequence[Any] | None = None,
) -> tuple[list[dict[str, Any]], list[list[Any]]]:
    """At most ``limit`` of :func:`municipality_registrations` after the sort key
    ``after``, and each row's sort key."""
    where = "SELECT meeting_id FROM participant_view WHERE municipality_code = $1"
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS}, m.title AS meeting_title, m.starts_at,
                   m.cancelled AS meeting_cancelled, p.registered_at AS _registered_at
            FROM {_ranked(where)} JOIN meeting_view m USING (meeting_id)
            WHERE p.municipality_code = $1
              AND ($2::text IS NULL
                   OR (m.starts_at, p.registered_at, p.registration_id)
                      > ($2::text::timestamptz, $3::text::timestamptz, $4::text))
            ORDER BY m.starts_at, p.registered_at, p.registration_id
            LIMIT $5""",
        municipality_code,
        *(after or (None, None, None)),
        limit,
    )
    keys = [
        [r["starts_at"].isoformat(), r["_registered_at"].isoformat(), r["registration_id"]]
        for r in rows
    ]
    return [_without_keys(r) for r in rows], keys


def _without_keys(row: asyncpg.Record) -> dict[str, Any]:
    """A row as the lists show it: without the columns only its sort key needs."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


async def upcoming_meetings(
    conn: asyncpg.Connection | asyncpg.Pool, now: datetime
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT m.*, a.taken, a.waiting,
                  CASE WHEN a.cancelled THEN 0 ELSE greatest(a.seats - a.taken, 0) END AS free
           FROM meeting_view m JOIN availability_view a USING (meeting_id)
           WHERE m.ends_at >= $1 AND NOT m.cancelled ORDER BY m.starts_at""",
        now,
    )
    return [dict(r) for r in rows]
