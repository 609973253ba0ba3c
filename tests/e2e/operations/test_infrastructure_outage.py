"""Kafka, then PostgreSQL, stopped and started under traffic: the services heal themselves.

The stack's own script stops and starts the component (``deploy/local/stack.sh down|up``);
the component is ALWAYS started again in a ``finally`` block, so a failing test leaves the
stack up. The service processes are never restarted: readiness must return to 200 by
itself, and nothing the services accepted (2xx) may be lost.

- Kafka away: commands still succeed (they only need PostgreSQL: events wait in the
  outbox), and the events reach Kafka, the projections and the mailbox once it is back.
- PostgreSQL away: commands get 503 with ``Retry-After`` and a problem+json body (no stack
  trace); clients that retry with the same ``Idempotency-Key`` get their answer after.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.e2e.operations.harness import (
    CODES,
    Rush,
    all_ready,
    answered,
    assert_events_projection_equals_rebuild,
    assert_feed_equals_rebuild,
    assert_mail_once,
    assert_roster_equals_rebuild,
    contact_email,
    deliveries_settled,
    join_members,
    members_known_to_events,
    outbox_drained,
    pool_of,
    ready,
    running_pids,
    schedule_meeting,
    stack,
)
from tests.support import auth
from tests.support.system import System
from tests.support.waiting import wait_until

SEATS = 20


async def start_system(system: System, http: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """All three services, 8 member municipalities known to events, one meeting."""
    await system.start("membership")
    await system.start("events")
    await system.start("notifications")
    codes = CODES[:8]
    members = await join_members(http, lambda _: system.url("membership"), codes)
    async with pool_of(system.dsn("events")) as db:

        async def view_knows_members() -> bool:
            return await members_known_to_events(db, codes, 2021)

        await wait_until(view_knows_members, timeout=30, what="events' view of the members")
    meeting = await schedule_meeting(http, system.url("events"), "nedbrud", seats=SEATS)
    return members, meeting


async def assert_nothing_lost(
    system: System,
    http: httpx.AsyncClient,
    meeting: str,
    rushes: list[Rush],
    members: dict[str, str],
) -> None:
    """Every accepted registration and membership made it everywhere, each mail once."""
    answers = [r for rush in rushes for r in rush.answers.values()]
    assert {r.status_code for r in answers} <= {201, 202}, [r.text for r in answers]
    accepted = {r.json()["registration_id"] for r in answers}
    assert len(accepted) == len(answers)
    async with (
        pool_of(system.dsn("membership")) as membership_db,
        pool_of(system.dsn("events")) as events_db,
        pool_of(system.dsn("notifications")) as notifications_db,
    ):

        async def caught_up() -> list[dict[str, Any]] | None:
            if not (await outbox_drained(events_db) and await outbox_drained(membership_db)):
                return None
            url = f"{system.url('events')}/meetings/{meeting}/registrations"
            rows: list[dict[str, Any]] = (await http.get(url)).json()
            return rows if {r["registration_id"] for r in rows} == accepted else None

        rows = await wait_until(caught_up, timeout=90, what="every accepted registration")
        seated = [r for r in rows if r["status"] == "confirmed"]
        assert len(seated) == min(SEATS, len(accepted))
        assert len({r["email"] for r in rows}) == len(rows)
        await assert_events_projection_equals_rebuild(events_db, system.prefix, meeting)
        await assert_roster_equals_rebuild(membership_db, members.values())

        expected = len(rows) + len(members)

        async def mail_settled() -> bool:
            return await deliveries_settled(notifications_db, expected)

        await wait_until(mail_settled, timeout=90, what=f"{expected} mails sent")
        assert_mail_once(
            system.smtp,
            confirmed={r["email"] for r in seated},
            waitlisted={r["email"] for r in rows if r["status"] == "waitlisted"},
            contacts={contact_email(code) for code in members},
        )
        assert len(await assert_feed_equals_rebuild(notifications_db)) == expected


async def test_kafka_stopped_and_started_under_traffic_loses_nothing_and_needs_no_restart(
    system: System,
) -> None:
    async with httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as http:
        members, meeting = await start_system(system, http)
        pids = running_pids(system)
        codes = list(members)
        events = system.url("events")
        # One client registering one participant after another while Kafka goes down.
        traffic = Rush(meeting, 60, 1, lambda _: events, codes)
        away = Rush(meeting, 15, 3, lambda _: events, codes, offset=1000)
        back = Rush(meeting, 15, 1, lambda _: events, codes, offset=2000)
        late: dict[str, str] = {}
        try:
            async with flowing(traffic, http):
                await answered(traffic, 5)
                await stack("down", "kafka")

            async def not_ready() -> bool:
                return not await ready(http, events)

            await wait_until(not_ready, timeout=30, what="events to report Kafka away")
            # Commands while Kafka is away: accepted at once (the outbox keeps the events).
            await away.run(http)
            late = await join_members(http, lambda _: system.url("membership"), CODES[8:10])
            async with pool_of(system.dsn("events")) as db:
                assert not await outbox_drained(db), "the relay published with Kafka away?"
            # And more while Kafka comes back.
            await asyncio.gather(stack("up", "kafka"), back.run(http))
        finally:
            await stack("up", "kafka")  # idempotent: returns at once if it is up
        for phase in (traffic, away, back):
            assert not phase.retried, "a command failed because Kafka was away"
        assert (len(away.answers), len(back.answers)) == (15, 15)

        async def healed() -> bool:
            return await all_ready(http, system)

        await wait_until(healed, timeout=90, what="readiness back to 200 without restarts")
        assert running_pids(system) == pids
        await assert_nothing_lost(system, http, meeting, [traffic, away, back], members | late)


async def test_postgres_stopped_and_started_answers_503_then_recovers_losing_nothing(
    system: System,
) -> None:
    async with httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as http:
        members, meeting = await start_system(system, http)
        pids = running_pids(system)
        codes = list(members)
        events = system.url("events")
        # A client that keeps registering, and retries (same key) through the outage.
        traffic = Rush(meeting, 200, 1, lambda _: events, codes)
        async with flowing(traffic, http):
            try:
                await answered(traffic, 5)
                await stack("down", "postgres")
                registration = await http.post(
                    f"{events}/meetings/{meeting}/registrations",
                    json=traffic.request(999),
                    headers={"Idempotency-Key": "while-postgres-is-away"},
                )
                join = await http.post(
                    f"{system.url('membership')}/networks/knub/memberships",
                    json={
                        "municipality_code": CODES[20],
                        "year": 2021,
                        "contact_name": "Kontakt",
                        "contact_email": contact_email(CODES[20]),
                        "ean": "5798000000001",
                    },
                    headers={"Idempotency-Key": "join-while-postgres-is-away"},
                )
                for response in (registration, join):
                    assert response.status_code == 503, response.text
                    assert int(response.headers["Retry-After"]) > 0
                    content_type = response.headers["content-type"]
                    assert content_type.startswith("application/problem+json")
                    problem = response.json()
                    assert problem["status"] == 503
                    assert all(problem[k] for k in ("type", "title", "detail", "detail_en"))
                    assert "Traceback" not in response.text
                for process in (p for ps in system.instances.values() for p in ps):
                    readiness = await http.get(f"{process.url}/readyz")
                    assert readiness.status_code == 503, (process.service, readiness.text)
                stalled_at = traffic.answered
            finally:
                await stack("up", "postgres")

            async def healed() -> bool:
                return await all_ready(http, system)

            await wait_until(healed, timeout=60, what="readiness back to 200 without restarts")
            assert running_pids(system) == pids
            await answered(traffic, stalled_at + 5)  # the same client carries on
        assert traffic.retried, "no client met the outage"
        await assert_nothing_lost(system, http, meeting, [traffic], members)


@asynccontextmanager
async def flowing(rush: Rush, http: httpx.AsyncClient) -> AsyncIterator[None]:
    """Traffic from ``rush`` while the block runs; at its end the clients finish the
    registration they are on (retrying it if need be) and stop. On an error, cancelled."""
    stop = asyncio.Event()
    task = asyncio.create_task(rush.run_until(http, stop))
    try:
        yield
        stop.set()
        await task
    finally:
        task.cancel()
