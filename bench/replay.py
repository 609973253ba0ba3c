"""Replay: rebuild the events service's read models from a million stored events.

The events go straight into a fresh events database with COPY (no outbox rows: they count
as long published), in transactions of 100,000 events, as a service's history would hold
them: per meeting MeetingScheduled, MeetingProgramPublished, registrations (the first
``seats`` confirmed, the rest waitlisted with their positions), then cancellations of
seats each followed by the promotion of the first on the waiting list.

The rebuild is the service's own (``services.events.operations.rebuild_database``), run
in a subprocess (``python -m bench.replay worker``) so its peak memory is its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from bench.common import ROOT, fresh_database, proc_status, unique
from contracts import meetings as wire
from services.kernel.db import create_pool, drop_database
from services.kernel.privacy import PrivacySettings, Vault, seal

SEATS = 100
TX_EVENTS = 100_000


@dataclass(frozen=True)
class ReplaySpec:
    meetings: int
    per_meeting: int


def spec(quick: bool) -> ReplaySpec:
    return ReplaySpec(20, 250) if quick else ReplaySpec(1000, 1000)


People = list[tuple[str, str]]
"""(person id, sealed personal data) of the i-th participant of every meeting."""


async def make_people(dsn: str, count: int) -> People:
    """``count`` persons in the vault (the bench database), each with sealed data, as the
    events service seals them: the rebuild opens every participant, key by key."""
    vault = Vault(PrivacySettings(database_url=dsn))
    try:
        found = await vault.persons_for([f"deltager{i}@kommune.dk" for i in range(count)])
    finally:
        await vault.close()
    return [
        (
            p.person_id,
            seal(
                p.person_id,
                p.key,
                {
                    "name": f"Deltager {i}",
                    "email": f"deltager{i}@kommune.dk",
                    "job_title": "Boligsocial medarbejder",
                    "note": None,
                },
            ),
        )
        for i, p in enumerate(found)
    ]


def _participant(people: People, i: int) -> dict[str, Any]:
    code = f"{101 + (i % 98) * 8:03d}"[-3:]
    person_id, sealed = people[i]
    return {"person_id": person_id, "municipality_code": code, "sealed": sealed}


def _pairs(rest: int) -> int:
    """Cancellations (each with a promotion) in a meeting of ``rest`` registration events."""
    return 0 if rest < 3 * SEATS else min(SEATS - 1, rest // 20)


def meeting_events(
    m: int, per_meeting: int, people: People
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(CloudEvents type, data) of one meeting's history: exactly ``per_meeting`` events."""
    mid = f"meeting-replay-{m:05d}"
    at = "2021-11-19T09:00:00+01:00"
    yield (
        wire.MeetingScheduled.type_name(),
        {
            "meeting_id": mid,
            "occurred_at": at,
            "network_slug": "knub",
            "year": 2021,
            "title": f"Netværksmøde {m}",
            "description": "Systematisering af anvisning og udlejning",
            "starts_at": "2021-12-08T10:00:00+01:00",
            "ends_at": "2021-12-08T15:30:00+01:00",
            "venue_name": "KL-huset",
            "venue_address": "Weidekampsgade 10, 2300 København S",
            "seats": SEATS,
            "registration_deadline": "2021-12-03T12:00:00+01:00",
            "per_municipality_cap": None,
            "guest_price_dkk": None,
            "next_year_members_free": True,
        },
    )
    yield (
        wire.MeetingProgramPublished.type_name(),
        {
            "meeting_id": mid,
            "occurred_at": at,
            "items": [
                {"starts_at": "2021-12-08T10:00:00+01:00", "title": "Velkomst", "speaker": "KL"},
                {"starts_at": "2021-12-08T10:30:00+01:00", "title": "Anvisning", "speaker": None},
            ],
        },
    )
    rest = per_meeting - 2
    pairs = _pairs(rest)
    registrations = rest - 2 * pairs
    waiting: list[int] = []
    for i in range(registrations):
        data = {
            "meeting_id": mid,
            "occurred_at": at,
            "registration_id": f"reg-{m:05d}-{i:05d}",
            "participant": _participant(people, i),
            "basis": "member",
            "price_dkk": 0,
        }
        if i < SEATS:
            yield wire.RegistrationConfirmed.type_name(), data
        else:
            waiting.append(i)
            yield wire.RegistrationWaitlisted.type_name(), {**data, "position": len(waiting)}
    for k in range(pairs):
        yield (
            wire.RegistrationCancelled.type_name(),
            {
                "meeting_id": mid,
                "occurred_at": at,
                "registration_id": f"reg-{m:05d}-{k:05d}",
                "participant": _participant(people, k),
                "cancelled_by": "participant",
                "had_seat": True,
            },
        )
        first = waiting.pop(0)
        yield (
            wire.RegistrationPromoted.type_name(),
            {
                "meeting_id": mid,
                "occurred_at": at,
                "registration_id": f"reg-{m:05d}-{first:05d}",
                "participant": _participant(people, first),
            },
        )


def expected_after(s: ReplaySpec) -> dict[str, int]:
    rest = s.per_meeting - 2
    pairs = _pairs(rest)
    registrations = rest - 2 * pairs
    taken = min(SEATS, registrations)
    return {
        "meetings": s.meetings,
        "participants": s.meetings * registrations,
        "taken": s.meetings * taken,
        "waiting": s.meetings * (registrations - taken - pairs),
    }


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


async def _rows(s: ReplaySpec, meetings: range, people: People) -> AsyncIterator[bytes]:
    rand = random.Random(meetings.start)
    chunk: list[str] = []
    for m in meetings:
        mid = f"meeting-replay-{m:05d}"
        for version, (type_, data) in enumerate(meeting_events(m, s.per_meeting, people), start=1):
            event_id = uuid.UUID(int=rand.getrandbits(128), version=4)
            body = _copy_text(orjson.dumps(data).decode())
            chunk.append(f"{event_id}\t{mid}\t{version}\t{type_}\t{body}\n")
        if len(chunk) >= 20_000:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()


async def insert_events(dsn: str, s: ReplaySpec) -> float:
    """COPY the history into ``dsn`` (schema made by the service's migrations); seconds."""
    from services.events.bootstrap import MIGRATIONS
    from services.kernel.eventstore import MIGRATIONS as STORE_MIGRATIONS
    from services.kernel.idempotency import MIGRATIONS as IDEMPOTENCY_MIGRATIONS

    pool = await create_pool(dsn, [*STORE_MIGRATIONS, *IDEMPOTENCY_MIGRATIONS, *MIGRATIONS])
    await pool.close()
    people = await make_people(dsn, s.per_meeting)
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        per_tx = max(1, TX_EVENTS // s.per_meeting)
        for first in range(0, s.meetings, per_tx):
            async with conn.transaction():
                await conn.copy_to_table(
                    "events",
                    source=_rows(s, range(first, min(first + per_tx, s.meetings)), people),
                    columns=["event_id", "stream_id", "version", "event_type", "data"],
                    format="text",
                )
        # A real store has been vacuumed (autovacuum) long before anyone rebuilds from it,
        # and the gigabyte the load just wrote is not still being checkpointed: the
        # rebuild is timed against a settled server, not against the load's write-back.
        await conn.execute("VACUUM ANALYZE events")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def run(quick: bool = False) -> dict[str, Any]:
    s = spec(quick)
    token = unique()
    dsn = await fresh_database(f"bench_replay_{token}")
    prefix = f"bench{token}."
    try:
        insert_s = await insert_events(dsn, s)
        env = {
            **os.environ,
            "EVENTS_DATABASE_URL": dsn,
            "EVENTS_PRIVACY__DATABASE_URL": dsn,
            "EVENTS_KAFKA__TOPIC_PREFIX": prefix,
            "EVENTS_DEVELOPMENT": "true",  # the vault's development key and pepper
        }
        out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bench.replay", "worker"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        worker = json.loads(out.stdout.strip().splitlines()[-1])
        conn = await asyncpg.connect(dsn)
        try:
            row = await conn.fetchrow(
                """SELECT (SELECT count(*) FROM availability_view) AS meetings,
                          (SELECT count(*) FROM participant_view) AS participants,
                          (SELECT sum(taken) FROM availability_view) AS taken,
                          (SELECT sum(waiting) FROM availability_view) AS waiting"""
            )
            after = {k: int(v or 0) for k, v in dict(row).items()}
            processed = await conn.fetchval(
                "SELECT count(*) FROM processed_events WHERE consumer = $1",
                prefix + "events-projections",
            )
        finally:
            await conn.close()
    finally:
        await drop_database(dsn)
    events = s.meetings * s.per_meeting
    expected = expected_after(s)
    return {
        "part": "replay",
        "quick": quick,
        "meetings": s.meetings,
        "per_meeting": s.per_meeting,
        "events": events,
        "insert_s": insert_s,
        "replayed": worker["count"] if after == expected and processed == events else -1,
        "reported_count": worker["count"],
        "rebuild_s": worker["seconds"],
        "events_per_s": worker["count"] / worker["seconds"],
        "maxrss_mb": worker["maxrss_kb"] / 1024,
        "after": after,
        "expected_after": expected,
        "processed_recorded": processed,
    }


def worker() -> None:
    """In the subprocess: the service's rebuild; prints count, seconds and peak RSS."""
    from services.events.config import Settings
    from services.events.operations import rebuild_database

    settings = Settings()
    started = time.perf_counter()
    count = asyncio.run(rebuild_database(settings))
    seconds = time.perf_counter() - started
    # VmHWM, not ru_maxrss: Linux carries the parent's peak into a child's ru_maxrss
    # across the exec (subprocess forks the harness, whose peak is its own, not ours).
    maxrss = proc_status(os.getpid())["VmHWM"]
    print(json.dumps({"count": count, "seconds": seconds, "maxrss_kb": maxrss}))


if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
    worker()
