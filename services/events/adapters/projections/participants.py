"""The participant list (``participant_view``): registrations written in a few set-based
statements, their personal data opened for it, and an erased person scrubbed from it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

import asyncpg
import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.kernel.privacy import ERASED, SealError, Vault, open_sealed

log = structlog.get_logger(__name__)


def timestamp(value: Any) -> datetime | None:
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


class ParticipantBatch:
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
            "registered_at": timestamp(data["occurred_at"]),
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
            # this transaction runs (see :func:`scrub_person`), is shown erased even when the key
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
