"""Through Kafka: the membership topic feeds the view; the meetings topic the projections."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import Envelope, encode
from contracts.membership import MEMBERSHIP_TOPIC, MembershipJoined
from services.events.adapters.projections import queries, rebuild, writer
from services.events.bootstrap import EventsService
from services.kernel.clock import ManualClock
from services.kernel.privacy import seal
from tests.integration.events.conftest import (
    CPH,
    ScriptedLookup,
    add_members,
    meeting_body,
    person,
)
from tests.support.events import projection_caught_up
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until


async def publish_joined(topic_prefix: str, code: str, year: int) -> None:
    """What the membership service's relay publishes when a municipality joins."""
    payload = MembershipJoined(
        membership_id=f"membership-knub-{year}-{code}",
        network_slug="knub",
        municipality_code=code,
        year=year,
        occurred_at=datetime(2021, 11, 19, 10, tzinfo=CPH),
        municipality_name="Gentofte",
        # The events service never opens the contact: sealed here with a throw-away key.
        contact_person_id=f"person-{int(code):032x}",
        contact_sealed=seal(f"person-{int(code):032x}", os.urandom(32), {"name": "Mette"}),
        ean="5798000000001",
        fee_dkk=7500,
    )
    wire = encode(
        Envelope(
            type=MembershipJoined.type_name(),
            source="/kl/membership",
            subject=payload.membership_id,
            data=payload.to_data(),
            id=uuid4(),
        )
    )
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic_prefix + MEMBERSHIP_TOPIC,
            wire.value,
            key=wire.key,
            headers=list(wire.headers),
        )
    finally:
        await producer.stop()


async def test_a_2022_membership_joined_on_kafka_gives_a_free_seat_under_the_offer(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    lookup: ScriptedLookup,
    topic_prefix: str,
) -> None:
    # The lookup knows no 2022 membership: the seat must come from what Kafka brought.
    created = await client.post("/meetings", json=meeting_body(next_year_members_free=True))
    meeting = created.json()["meeting_id"]
    await publish_joined(topic_prefix, "157", 2022)

    async def in_view() -> bool:
        status = await pool.fetchval(
            """SELECT status FROM membership_view
               WHERE network_slug = 'knub' AND year = 2022 AND municipality_code = '157'"""
        )
        return status == "active"

    await wait_until(in_view, timeout=30, what="MembershipJoined consumed")
    response = await client.post(f"/meetings/{meeting}/registrations", json=person(1, "157"))
    assert response.status_code == 201, response.text
    assert (response.json()["basis"], response.json()["price_dkk"]) == ("next_year_offer", 0)
    assert lookup.asked == [], "the view, caught up with the topic, answered alone"


async def test_the_availability_projection_equals_a_rebuild_from_the_event_store(
    client: httpx.AsyncClient, pool: asyncpg.Pool, service: EventsService, clock: ManualClock
) -> None:
    await add_members(pool, 2021, "101", "147", "751")
    await add_members(pool, 2022, "461")
    ids = []
    for seats, slug in ((3, "m1"), (2, "m2")):
        created = await client.post("/meetings", json=meeting_body(slug=slug, seats=seats))
        ids.append(created.json()["meeting_id"])
    registrations: list[dict[str, str]] = []
    codes = ["101", "147", "751", "461"]
    results = await asyncio.gather(
        *(
            client.post(f"/meetings/{ids[n % 2]}/registrations", json=person(n, codes[n % 4]))
            for n in range(12)
        )
    )
    registrations = [r.json() for r in results]
    first = next(
        r for r in registrations if r["meeting_id"] == ids[0] and r["status"] == "confirmed"
    )
    await client.post(f"/meetings/{ids[0]}/registrations/{first['registration_id']}/cancel")
    await client.post(f"/meetings/{ids[1]}/seats", json={"seats": 4})

    await wait_until(lambda: projection_caught_up(service), timeout=30, what="projection")
    live = await queries.all_availability(pool)
    for meeting_id in ids:
        state = (await client.get(f"/meetings/{meeting_id}")).json()
        row = next(r for r in live if r["meeting_id"] == meeting_id)
        assert (row["seats"], row["taken"], row["waiting"], row["offer_taken"]) == (
            state["seats"],
            state["seats_taken"],
            state["waiting"],
            state["offer_seats_taken"],
        )
    participants_before = await pool.fetch(
        "SELECT registration_id, status FROM participant_view ORDER BY 1"
    )
    indexes = "SELECT indexdef FROM pg_indexes WHERE tablename = 'participant_view' ORDER BY 1"
    indexes_before = await pool.fetch(indexes)
    rebuilt = await service.rebuild_projections()
    assert rebuilt == await pool.fetchval("SELECT count(*) FROM events")
    # The rebuild builds the secondary indexes again at its end: all of them are back.
    assert await pool.fetch(indexes) == indexes_before
    assert len(indexes_before) > 1
    # Every event is recorded as processed by the projection's consumer, once.
    assert await pool.fetchval(
        """SELECT count(*) FROM events e JOIN processed_events p USING (event_id)
           WHERE p.consumer = $1""",
        service.projection_subscription.name,
    ) == await pool.fetchval("SELECT count(*) FROM events")
    assert await queries.all_availability(pool) == live
    assert (
        await pool.fetch("SELECT registration_id, status FROM participant_view ORDER BY 1")
        == participants_before
    )
    assert sum(r["offer_taken"] for r in live) > 0, "461 came under the offer"

    # The front ends' reads, from the same projections.
    availability = (await client.get(f"/meetings/{ids[1]}/availability")).json()
    assert availability["seats"] == 4
    assert availability["free"] == 4 - availability["taken"]
    listing = (await client.get(f"/meetings/{ids[0]}/registrations")).json()
    waiting = [p["waiting_position"] for p in listing if p["status"] == "waitlisted"]
    assert waiting == list(range(1, len(waiting) + 1))
    mine = (await client.get("/municipalities/461/registrations")).json()
    assert mine
    assert all(r["municipality_code"] == "461" for r in mine)
    upcoming = (await client.get("/meetings")).json()
    assert [m["meeting_id"] for m in upcoming] == sorted(ids)
    clock.set(datetime(2022, 1, 1, tzinfo=CPH))
    assert (await client.get("/meetings")).json() == [], "upcoming is relative to the clock"


async def test_a_rebuild_that_fails_halfway_leaves_the_read_models_and_indexes_as_they_were(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    service: EventsService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await add_members(pool, 2021, "101")
    created = await client.post("/meetings", json=meeting_body(slug="m1", seats=2))
    meeting_id = created.json()["meeting_id"]
    for n in range(4):
        r = await client.post(f"/meetings/{meeting_id}/registrations", json=person(n, "101"))
        assert r.status_code in (201, 202), r.text
    await wait_until(lambda: projection_caught_up(service), timeout=30, what="projection")
    snapshot = """SELECT (SELECT array_agg(indexdef ORDER BY indexdef) FROM pg_indexes
                          WHERE tablename = 'participant_view') AS indexes,
                         (SELECT array_agg(registration_id || status ORDER BY 1)
                          FROM participant_view) AS participants,
                         (SELECT array_agg(meeting_id || taken || '/' || waiting)
                          FROM availability_view) AS availability"""
    before = await pool.fetchrow(snapshot)

    # Pages of one event; the third page fails (a bug, a lost vault): nothing may change.
    real_apply = writer.apply_many
    calls = 0

    async def failing(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("the rebuild fails here")
        return await real_apply(*args, **kwargs)

    monkeypatch.setattr(rebuild, "REBUILD_PAGE", 1)
    monkeypatch.setattr(writer, "apply_many", failing)
    with pytest.raises(RuntimeError, match="fails here"):
        await service.rebuild_projections()
    assert calls == 3
    assert await pool.fetchrow(snapshot) == before
