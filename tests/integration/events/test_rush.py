"""1,000 concurrent registrations for 100 seats: exactly 100 seats, 900 waiting in order."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
import httpx

from services.events.adapters.streams import PostgresMeetingStreams
from services.events.adapters.translation import meeting_to_json
from services.events.bootstrap import EventsService
from services.events.service_layer.batching import MeetingService
from tests.integration.events.conftest import add_members, meeting_body, person

CODES = [f"{n:03d}" for n in range(101, 199)]  # 98 municipalities


async def test_a_rush_of_1000_gives_exactly_100_seats_and_900_waiting_in_append_order(
    client: httpx.AsyncClient, pool: asyncpg.Pool, service: EventsService
) -> None:
    created = await client.post("/meetings", json=meeting_body(seats=100))
    assert created.status_code == 201, created.text
    meeting = created.json()["meeting_id"]
    await add_members(pool, 2021, *CODES)

    async def register(n: int) -> httpx.Response:
        return await client.post(
            f"/meetings/{meeting}/registrations", json=person(n, CODES[n % len(CODES)])
        )

    responses = await asyncio.gather(*(register(n) for n in range(1000)))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 100, 202: 900}, statuses
    bodies = [r.json() for r in responses]
    assert len({b["registration_id"] for b in bodies}) == 1000, "no duplicates"
    positions = sorted(b["waiting_position"] for b in bodies if b["status"] == "waitlisted")
    assert positions == list(range(1, 901)), "positions 1..900, each once"
    assert service.meetings.batches_decided < 1000, "requests were decided in batches"

    stream = await service.store.read_stream(pool, meeting)
    registrations = [ev for ev in stream if ev.type.startswith("dk.kl.events.registration_")]
    confirmed = [ev for ev in registrations if "confirmed" in ev.type]
    waiting = [ev for ev in registrations if "waitlisted" in ev.type]
    assert len(confirmed) == 100
    assert [ev.data["position"] for ev in waiting] == list(range(1, 901)), "append order"
    assert max(ev.version for ev in confirmed) < min(ev.version for ev in waiting)
    persons = [ev.data["participant"]["person_id"] for ev in registrations]
    assert len(set(persons)) == 1000, "a person each, and no e-mail in clear"
    assert service.vault.round_trips < 1000, "persons were made in batches"

    # Ten seat holders cancel: exactly the first ten on the waiting list get their seats.
    first_ten = [ev.data["registration_id"] for ev in waiting[:10]]
    seat_holders = [ev.data["registration_id"] for ev in confirmed[:10]]
    cancellations = await asyncio.gather(
        *(
            client.post(f"/meetings/{meeting}/registrations/{rid}/cancel", json={})
            for rid in seat_holders
        )
    )
    assert all(r.status_code == 200 for r in cancellations), [r.text for r in cancellations]
    promoted = [rid for r in cancellations for rid in r.json()["promoted"]]
    assert sorted(promoted) == sorted(first_ten)
    assert all(len(r.json()["promoted"]) == 1 for r in cancellations)

    now = (await client.get(f"/meetings/{meeting}")).json()
    assert (now["seats_taken"], now["free_seats"], now["waiting"]) == (100, 0, 890)
    snapshot_version = await pool.fetchval(
        "SELECT version FROM snapshots WHERE stream_id = $1", meeting
    )
    assert snapshot_version is not None
    assert snapshot_version > 1000 - 50

    # Another process (no cache) loads the meeting from the snapshot plus the newer events.
    cold = MeetingService(PostgresMeetingStreams(lambda: pool, service.store))
    version, state = await cold.meeting(meeting)
    assert version - snapshot_version < 50, "only the events after the snapshot were read"
    _, warm = await service.meetings.meeting(meeting)
    assert meeting_to_json(state) == meeting_to_json(warm)
