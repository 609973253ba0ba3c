"""A projection rebuilt while traffic continues ends equal to the live one.

Registrations (and some cancellations, which promote people from the waiting list) flow
into the events service; meanwhile the operator rebuilds its read models twice, the way the
operator CLI does (``services.events.operations.rebuild_database``, a process of its own
against the service's database). After the traffic stops and the projection catches up,
it must equal a recomputation from the event store and a fresh rebuild.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from services.events.config import Settings
from services.events.operations import rebuild_database
from services.kernel.kafka import KafkaSettings
from services.kernel.privacy import PrivacySettings
from tests.e2e.operations.harness import (
    CODES,
    Rush,
    answer,
    assert_events_projection_equals_rebuild,
    events_projection,
    join_members,
    members_known_to_events,
    outbox_drained,
    pool_of,
    schedule_meeting,
)
from tests.support import auth
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.system import VAULT, System
from tests.support.waiting import wait_until

MOST = 1000  # registrations flow until both rebuilds are done; this many at most
CLIENTS = 4
SEATS = 50
CANCELLED = 10


async def test_rebuilding_the_events_projection_during_traffic_ends_equal_to_the_live_one(
    system: System,
) -> None:
    await system.start("membership")
    await system.start("events")
    codes = CODES[:10]
    settings = Settings(
        database_url=system.dsn("events"),
        kafka=KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP, topic_prefix=system.prefix),
        privacy=PrivacySettings(database_url=system.dsn(VAULT)),
    )
    async with (
        httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as http,
        pool_of(system.dsn("events")) as db,
    ):
        await join_members(http, lambda _: system.url("membership"), codes)

        async def view_knows_members() -> bool:
            return await members_known_to_events(db, codes, 2021)

        await wait_until(view_knows_members, timeout=30, what="events' view of the members")
        meeting = await schedule_meeting(http, system.url("events"), "genopbyg", SEATS)
        rush = Rush(meeting, MOST, CLIENTS, lambda _: system.url("events"), codes)
        stop = asyncio.Event()
        rebuilt_during: list[tuple[int, int]] = []
        cancelled: list[str] = []

        async def answered(at_least: int) -> None:
            async def probe() -> bool:
                return rush.answered >= at_least

            await wait_until(probe, timeout=60, what=f"{at_least} answers")

        async def operator() -> None:
            await answered(30)
            for _ in range(2):
                before = rush.answered
                replayed = await rebuild_database(settings)
                assert replayed > 0
                rebuilt_during.append((before, rush.answered))
            await answered(rush.answered + 20)
            stop.set()

        async def cancellations() -> None:
            await answered(60)
            seated = [
                r.json()["registration_id"]
                for r in list(rush.answers.values())
                if r.status_code == 201
            ][:CANCELLED]
            for registration_id in seated:
                response = await answer(
                    http,
                    "POST",
                    lambda rid=registration_id: (
                        f"{system.url('events')}/meetings/{meeting}/registrations/{rid}/cancel"
                    ),
                    json={"cancelled_by": "participant"},
                    key=f"cancel-{registration_id}",
                )
                assert response.status_code == 200, response.text
                cancelled.append(registration_id)

        await asyncio.gather(rush.run_until(http, stop), operator(), cancellations())

        # Registrations were answered while each rebuild ran.
        assert len(rebuilt_during) == 2
        assert all(before < after for before, after in rebuilt_during), rebuilt_during
        people = rush.answered
        assert people < MOST
        assert rush.statuses() == {201: SEATS, 202: people - SEATS}

        async def caught_up() -> bool:
            if not await outbox_drained(db):
                return False
            projection = await events_projection(db, meeting)
            statuses = Counter(p["status"] for p in projection["participants"])
            return statuses == {
                "confirmed": SEATS,
                "waitlisted": people - SEATS - CANCELLED,
                "cancelled": CANCELLED,
            }

        await wait_until(caught_up, timeout=60, what="the projection to catch up")
        live = await assert_events_projection_equals_rebuild(db, system.prefix, meeting)
        assert {
            p["registration_id"] for p in live["participants"] if p["status"] == "cancelled"
        } == set(cancelled)
        availability = (
            await http.get(f"{system.url('events')}/meetings/{meeting}/availability")
        ).json()
        assert availability == {
            **live["availability"],
            "free": 0,
            "waiting": people - SEATS - CANCELLED,
        }
