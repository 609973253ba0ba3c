"""Consumer groups rebalanced during a rush, twice: an instance added, then one killed.

Two instances of the events service (each relays and keeps the projections) and two of the
notifications service share their consumer groups. Registrations come in four rounds. Before
the second, a third instance of each is started: its consumers join the groups (a rebalance)
while the second round comes in. Then the instance of each service that consumes the
meeting's partition (one meeting is one partition: its key is the meeting's stream) is
killed with SIGKILL, and the third round comes in at once: its consumers were static members,
so their partitions wait for the group's session timeout (6 s) before the others take them
over, and the round's events wait on the dead member's partition. The fourth comes after.
Nothing may be lost or done twice: every registration listed once, in the projections as in
a rebuild, in the feed, and mailed once.

Mail and SIGKILL: the delivery worker is at-least-once (see test_crash_recovery.py); the
notifications instance is killed while the SMTP sink refuses every recipient, after every
transaction that began before the refusal has ended, so no mail it handed over waits for
its commit and "one mail each" is the rule to hold.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from typing import Any

import asyncpg
import httpx
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.partitioner import DefaultPartitioner

from contracts.meetings import MEETING_TOPIC
from services.events.adapters.projections import queries
from services.events.entrypoints.subscribers import PROJECTIONS_CONSUMER
from tests.e2e.operations.harness import (
    CODES,
    Rush,
    assert_events_projection_equals_rebuild,
    assert_feed_equals_rebuild,
    assert_mail_once,
    assert_roster_equals_rebuild,
    contact_email,
    deliveries_settled,
    group_assignments,
    members_and_meeting,
    outbox_drained,
    pool_of,
)
from tests.support import auth
from tests.support.kafka import group_members, topic_partitions
from tests.support.system import System
from tests.support.waiting import wait_until

SEATS = 60
ROUND = 50
CLIENTS = 5


async def group_settled(group: str, members: int) -> bool:
    """The group has ``members`` members, each with partitions, none owned twice."""
    assignments = await group_assignments(group)
    owned = [(t, p) for m in assignments for t, parts in m.items() for p in parts]
    return len(assignments) == members and all(assignments) and len(owned) == len(set(owned))


async def settled(group: str, members: int) -> None:
    async def probe() -> bool:
        return await group_settled(group, members)

    await wait_until(probe, timeout=60, what=f"{members} members in {group}")


async def meeting_partition(db: asyncpg.Pool, meeting: str, topic: str) -> int:
    """The partition of ``topic`` that the meeting's events go to (their key is its id)."""
    key = await db.fetchval(
        """SELECT o.key FROM outbox o JOIN events e USING (event_id)
           WHERE e.stream_id = $1 LIMIT 1""",
        meeting,
    )
    (described,) = await topic_partitions(topic)
    partitions = sorted(p["partition"] for p in described["partitions"])
    return int(DefaultPartitioner()(key, partitions, partitions))


async def owner(system: System, service: str, group: str, place: tuple[str, int]) -> int:
    """The index of the instance of ``service`` whose consumer in ``group`` owns ``place``
    (topic, partition): a static member's id begins with its instance id, host-port."""
    topic, partition = place
    for member in await group_members(group):
        assignment = ConsumerProtocolMemberAssignment.decode(member[-1])
        if partition in dict(assignment.assignment).get(topic, []):
            for i, process in enumerate(system.instances[service]):
                if str(member[0]).startswith(f"{socket.gethostname()}-{process.port}-"):
                    return i
    raise AssertionError(f"no instance of {service} owns {topic}[{partition}] in {group}")


async def transactions_older_than(db: asyncpg.Pool, moment: object) -> int:
    count: int = await db.fetchval(
        """SELECT count(*) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()
             AND xact_start < $1""",
        moment,
    )
    return count


async def test_an_instance_added_and_one_killed_during_a_rush_lose_and_double_nothing(
    system: System,
) -> None:
    await system.start("membership")
    await asyncio.gather(system.start("events", 2), system.start("notifications", 2))
    codes = CODES[:12]
    groups = {
        "events": system.prefix + PROJECTIONS_CONSUMER,
        "notifications": system.prefix + "notifications",
    }
    smtp = system.smtp
    async with (
        httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as http,
        pool_of(system.dsn("membership")) as membership_db,
        pool_of(system.dsn("events")) as events_db,
        pool_of(system.dsn("notifications")) as notifications_db,
    ):
        members, meeting = await members_and_meeting(
            http, system, events_db, codes, "omfordeling", SEATS
        )
        partition = await meeting_partition(events_db, meeting, system.prefix + MEETING_TOPIC)
        alive = [system.url("events", 0), system.url("events", 1)]

        def registrations(n: int) -> Rush:
            return Rush(meeting, ROUND, CLIENTS, lambda k: alive[k % len(alive)], codes, n * 1000)

        rounds = [registrations(n) for n in range(4)]
        await rounds[0].run(http)

        # Added: a third instance of each; its consumers join while registrations come in.
        await asyncio.gather(system.start("events"), system.start("notifications"))
        # The added instance answers registrations too: any of the three may be the one
        # that owns the meeting's partition, and so the one killed below.
        alive.append(system.url("events", 2))
        added = time.monotonic()
        await asyncio.gather(rounds[1].run(http), *(settled(group, 3) for group in groups.values()))
        timings = {"groups of three after the start": time.monotonic() - added}

        # Killed: each service's instance that consumes the meeting's partition.
        victims = {
            service: await owner(system, service, group, (system.prefix + MEETING_TOPIC, partition))
            for service, group in groups.items()
        }
        refusing_since = await notifications_db.fetchval("SELECT clock_timestamp()")
        smtp.refuse_next_rcpts = 10**9

        async def nothing_from_before() -> bool:
            return await transactions_older_than(notifications_db, refusing_since) == 0

        await wait_until(nothing_from_before, timeout=60, what="older transactions ended")
        alive.remove(system.url("events", victims["events"]))
        await asyncio.gather(*(system.kill(s, i) for s, i in victims.items()))
        killed = time.monotonic()
        smtp.refuse_next_rcpts = 0
        await asyncio.gather(rounds[2].run(http), *(settled(group, 2) for group in groups.values()))
        timings["groups of two after the kill"] = time.monotonic() - killed
        await rounds[3].run(http)

        people = 4 * ROUND
        answers = {k: r for round_ in rounds for k, r in round_.answers.items()}
        assert Counter(r.status_code for r in answers.values()) == {
            201: SEATS,
            202: people - SEATS,
        }
        accepted = {r.json()["registration_id"] for r in answers.values()}
        assert len(accepted) == people

        async def caught_up() -> list[dict[str, Any]] | None:
            if not await outbox_drained(events_db):
                return None
            rows = await queries.participants(events_db, meeting)
            return rows if {r["registration_id"] for r in rows} == accepted else None

        listed = await wait_until(caught_up, timeout=120, what="every registration listed")
        assert listed is not None
        rows = listed
        assert Counter(r["status"] for r in rows) == {
            "confirmed": SEATS,
            "waitlisted": people - SEATS,
        }
        await assert_events_projection_equals_rebuild(events_db, system.prefix, meeting)
        await assert_roster_equals_rebuild(membership_db, members.values())
        expected = people + len(members)

        async def mail_settled() -> bool:
            return await deliveries_settled(notifications_db, expected)

        await wait_until(mail_settled, timeout=180, what=f"{expected} mails sent")
        # No cancellations here: each answer's status is the registration's status now.
        emails = {
            code: {
                rounds[0].email(int(key.rsplit("-", 1)[1]))
                for key, r in answers.items()
                if r.status_code == code
            }
            for code in (201, 202)
        }
        assert_mail_once(
            smtp,
            confirmed=emails[201],
            waitlisted=emails[202],
            contacts={contact_email(code) for code in members},
        )
        assert len(await assert_feed_equals_rebuild(notifications_db)) == expected
        print(
            f"\nkilled {victims} (the meeting's partition {partition}); "
            + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        )
