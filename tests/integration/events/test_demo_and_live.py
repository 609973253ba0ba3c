"""The seed's demo meeting, the configured clock, and the live availability stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg
import httpx
import pytest

from services.events.adapters.demo import DEMO_MEETING_ID, seed_demo
from services.events.bootstrap import EventsService
from services.events.config import Settings
from services.events.operations import rebuild_database, seed_database
from services.kernel.clock import ManualClock, ShiftedClock, clock_from_setting
from tests.integration.events.conftest import CPH, add_members, meeting_body, person
from tests.support.serving import serving
from tests.support.waiting import wait_until


async def test_the_demo_is_knubs_3rd_meeting_of_2021_in_kl_huset_and_seeding_is_idempotent(
    service: EventsService, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    assert await seed_demo(service.meetings, clock) is True
    assert await seed_demo(service.meetings, clock) is False
    meeting = (await client.get(f"/meetings/{DEMO_MEETING_ID}")).json()
    assert meeting["starts_at"] == "2021-12-08T09:30:00+01:00"
    assert meeting["venue_name"] == "KL-huset"
    assert meeting["venue_address"] == "Weidekampsgade 10, 2300 København S"
    assert meeting["year"] == 2021
    assert meeting["next_year_members_free"] is True
    assert meeting["seats"] == 80
    assert meeting["registration_deadline"] == "2021-12-03T12:00:00+01:00"
    titles = " ".join(item["title"] for item in meeting["program"])
    for theme in ("anvisning og udlejning", "monitorering", "Housing first", "boligorganisation"):
        assert theme.lower() in titles.lower()
    assert meeting["version"] == 2


async def test_the_operator_seed_writes_the_demo_once_into_the_configured_database(
    fresh_dsn: str,
) -> None:
    settings = Settings(database_url=fresh_dsn, clock_as_of=datetime(2021, 11, 19, 9, tzinfo=CPH))
    assert await seed_database(settings) is True
    assert await seed_database(settings) is False
    conn = await asyncpg.connect(fresh_dsn)
    try:
        occurred = await conn.fetchval(
            "SELECT data->>'occurred_at' FROM events WHERE stream_id = $1 AND version = 1",
            DEMO_MEETING_ID,
        )
    finally:
        await conn.close()
    assert occurred.startswith("2021-11-19T"), "the demo runs as of 19 November 2021"
    steps: list[tuple[int, int]] = []
    assert await rebuild_database(settings, lambda done, total: steps.append((done, total))) == 2
    assert steps[-1] == (2, 2)


def test_the_clock_is_taken_from_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_CLOCK_AS_OF", "2021-11-19T09:00:00+01:00")
    clock = clock_from_setting(Settings().clock_as_of)
    assert isinstance(clock, ShiftedClock)
    assert clock.now().date().isoformat() == "2021-11-19"


@pytest.fixture
async def server(service: EventsService) -> AsyncIterator[str]:
    """The app on a real socket (SSE needs a streaming transport); lifespan is the test's."""
    async with serving(service.app) as url:
        yield url


async def test_the_availability_stream_pushes_a_new_event_when_seats_are_taken(
    server: str, client: httpx.AsyncClient, service: EventsService
) -> None:
    created = await client.post("/meetings", json=meeting_body(seats=10))
    meeting = created.json()["meeting_id"]
    await add_members(service.runtime.pool, 2021, "101")

    async def projected() -> bool:
        return (await client.get(f"/meetings/{meeting}/availability")).status_code == 200

    await wait_until(projected, timeout=30, what="meeting projected")
    seen: list[dict[str, object]] = []
    async with (
        httpx.AsyncClient(base_url=server, timeout=30) as http,
        http.stream("GET", f"/meetings/{meeting}/availability/stream?interval=0.1") as stream,
        asyncio.timeout(30),
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        async for line in stream.aiter_lines():
            if not line.startswith("data:"):
                continue
            seen.append(json.loads(line.removeprefix("data:").strip()))
            if len(seen) == 1:
                registered = await client.post(
                    f"/meetings/{meeting}/registrations", json=person(1, "101")
                )
                assert registered.status_code == 201
            if seen[-1]["taken"] == 1:
                break
    assert (seen[0]["taken"], seen[0]["free"]) == (0, 10)
    assert (seen[-1]["taken"], seen[-1]["free"]) == (1, 9)
