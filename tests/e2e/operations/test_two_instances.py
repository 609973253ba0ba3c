"""Two instances of every service at once: the same results as one, and no effect twice.

Instances of a service share one database (one outbox relay active among them, held by an
advisory lock) and one consumer group per subscription (Kafka splits the partitions between
them). Joins alternate between the membership instances and registrations between the
events instances; the outcome must be what one instance would give.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from services.events.entrypoints.subscribers import PROJECTIONS_CONSUMER
from tests.e2e.operations.harness import (
    CODES,
    Rush,
    active_relays,
    all_ready,
    assert_events_projection_equals_rebuild,
    assert_feed_equals_rebuild,
    assert_mail_once,
    assert_roster_equals_rebuild,
    contact_email,
    deliveries_settled,
    group_assignments,
    join_members,
    outbox_drained,
    pool_of,
    schedule_meeting,
)
from tests.support import auth
from tests.support.system import System
from tests.support.waiting import wait_until

PEOPLE = 150
CLIENTS = 20
SEATS = 50


async def test_two_instances_of_each_service_give_one_instances_results_without_duplicates(
    system: System,
) -> None:
    await system.start("membership", 2)
    await system.start("events", 2)
    await system.start("notifications", 2)
    codes = CODES[:12]
    async with (
        httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as http,
        pool_of(system.dsn("membership")) as membership_db,
        pool_of(system.dsn("events")) as events_db,
        pool_of(system.dsn("notifications")) as notifications_db,
    ):
        # One relay active per database, the other instance a standby.
        for db, service in (
            (membership_db, "membership"),
            (events_db, "events"),
            (notifications_db, "notifications"),
        ):
            assert await active_relays(db, service) == 1

        # Each consumer group has both instances as members, the partitions split between them.
        groups = (
            system.prefix + PROJECTIONS_CONSUMER,
            system.prefix + "notifications",
        )
        for group in groups:

            async def split(group: str = group) -> bool:
                members = await group_assignments(group)
                owned = [(t, p) for m in members for t, parts in m.items() for p in parts]
                return len(members) == 2 and all(members) and len(owned) == len(set(owned))

            await wait_until(split, timeout=60, what=f"both instances in group {group}")

        members = await join_members(
            http, lambda i: system.url("membership", i % 2), codes, year=2021
        )
        meeting = await schedule_meeting(http, system.url("events", 1), "to-instanser", SEATS)
        rush = Rush(meeting, PEOPLE, CLIENTS, lambda n: system.url("events", n % 2), codes)
        await rush.run(http)

        assert rush.statuses() == {201: SEATS, 202: PEOPLE - SEATS}
        answered_ids = rush.registration_ids()
        assert len(answered_ids) == PEOPLE
        positions = sorted(
            r.json()["waiting_position"] for r in rush.answers.values() if r.status_code == 202
        )
        assert positions == list(range(1, PEOPLE - SEATS + 1))

        async def caught_up() -> bool:
            if not (await all_ready(http, system) and await outbox_drained(events_db)):
                return False
            lists = await asyncio.gather(
                *(
                    http.get(
                        f"{system.url('events', i)}/meetings/{meeting}/registrations",
                        params={"limit": 500},  # one page holds them all (150)
                    )
                    for i in (0, 1)
                )
            )
            return all({r["registration_id"] for r in x.json()} == answered_ids for x in lists)

        await wait_until(caught_up, timeout=60, what="both instances' participant lists")

        rows = (
            await http.get(
                f"{system.url('events', 0)}/meetings/{meeting}/registrations",
                params={"limit": 500},
            )
        ).json()
        assert Counter(r["status"] for r in rows) == {
            "confirmed": SEATS,
            "waitlisted": PEOPLE - SEATS,
        }
        assert len({r["email"] for r in rows}) == PEOPLE
        await assert_events_projection_equals_rebuild(events_db, system.prefix, meeting)
        await assert_roster_equals_rebuild(membership_db, members.values())

        # Each mail once, though two workers and two consumers were at it.
        expected = PEOPLE + len(members)

        async def mail_settled() -> bool:
            return await deliveries_settled(notifications_db, expected)

        await wait_until(mail_settled, timeout=90, what=f"{expected} mails sent")
        assert_mail_once(
            system.smtp,
            confirmed={r["email"] for r in rows if r["status"] == "confirmed"},
            waitlisted={r["email"] for r in rows if r["status"] == "waitlisted"},
            contacts={contact_email(code) for code in members},
        )
        assert len(await assert_feed_equals_rebuild(notifications_db)) == expected
