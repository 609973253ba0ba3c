"""SIGKILL of each service in turn during a registration rush, then recovery.

300 registrations from 30 concurrent clients go to the events service over HTTP (members
joined first through the membership service). During the rush the notifications service,
then the events service, then the membership service are killed with SIGKILL and started
again. Clients whose request failed on the dead process retry with the same
``Idempotency-Key`` until they get an answer.

About mail and SIGKILL: the delivery worker is at-least-once by design (a crash after the
SMTP server accepted a message and before the commit that records it resends it once, with
the same Message-ID; see ``services/notifications/service_layer/delivery.py``). The test
kills the notifications service while the SMTP server refuses recipients, after the worker
has been seen refused, so the kill hits consuming, queueing and delivery attempts but not
that window; "exactly one mail" is then the guarantee to hold.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

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
    join_members,
    members_known_to_events,
    outbox_drained,
    pool_of,
    schedule_meeting,
)
from tests.support import auth
from tests.support.system import System
from tests.support.waiting import wait_until

PEOPLE = 300
CLIENTS = 30
SEATS = 100


async def test_sigkill_of_each_service_during_a_rush_loses_nothing_and_doubles_nothing(
    system: System,
) -> None:
    await system.start("membership")
    await system.start("events")
    await system.start("notifications")
    codes, late_codes = CODES[:15], CODES[15:20]
    smtp = system.smtp
    async with (
        httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as http,
        pool_of(system.dsn("membership")) as membership_db,
        pool_of(system.dsn("events")) as events_db,
        pool_of(system.dsn("notifications")) as notifications_db,
    ):
        members = await join_members(http, lambda _: system.url("membership"), codes)

        async def view_knows_members() -> bool:
            return await members_known_to_events(events_db, codes, 2021)

        await wait_until(view_knows_members, timeout=30, what="events' view of the members")
        meeting = await schedule_meeting(http, system.url("events"), "styrt", seats=SEATS)
        rush = Rush(meeting, PEOPLE, CLIENTS, lambda _: system.url("events"), codes)
        killed_at: dict[str, int] = {}
        late_joins: list[asyncio.Task[dict[str, str]]] = []

        async def answered(at_least: int) -> None:
            async def probe() -> bool:
                return rush.answered >= at_least

            await wait_until(probe, timeout=60, what=f"{at_least} answers")

        async def chaos() -> None:
            # notifications: refuse mail, wait until the worker was refused once more (so no
            # accepted mail waits for its commit), then kill it in the middle of the rush.
            smtp.refuse_next_rcpts = 10**9
            await answered(20)
            refused_before = sum(smtp.rcpt_attempts.values())

            async def worker_refused() -> bool:
                return sum(smtp.rcpt_attempts.values()) > refused_before

            await wait_until(worker_refused, timeout=30, what="a refused delivery attempt")
            killed_at["notifications"] = rush.answered
            await system.kill("notifications")
            smtp.refuse_next_rcpts = 0  # the new process may send at once
            restarting = asyncio.create_task(system.restart("notifications"))

            # events: killed at once, while registrations are in flight.
            killed_at["events"] = rush.answered
            await system.kill("events")
            await system.restart("events")
            await restarting

            # membership: killed while late joins are on their way to it.
            await answered(killed_at["events"] + 20)
            late_joins.append(
                asyncio.create_task(
                    join_members(http, lambda _: system.url("membership"), late_codes)
                )
            )
            killed_at["membership"] = rush.answered
            await system.kill("membership")
            await system.restart("membership")

        await asyncio.gather(rush.run(http), chaos())
        members |= await late_joins[0]

        # Every kill hit the rush while it ran, and some clients had to retry.
        assert all(n < PEOPLE for n in killed_at.values()), killed_at
        assert rush.retried, "no client had to retry: the kills did not hit the rush"

        # Every request got an answer: a seat or the waiting list, never a refusal.
        assert rush.statuses() == {201: SEATS, 202: PEOPLE - SEATS}
        answered_ids = rush.registration_ids()
        assert len(answered_ids) == PEOPLE

        # Recovery: all processes ready, every outbox published, projections caught up.
        async def recovered() -> bool:
            return await all_ready(http, system) and all(
                await asyncio.gather(*(outbox_drained(db) for db in (membership_db, events_db)))
            )

        await wait_until(recovered, timeout=60, what="all services ready, outboxes published")

        async def participant_list() -> list[dict[str, object]] | None:
            response = await http.get(
                f"{system.url('events')}/meetings/{meeting}/registrations",
                params={"limit": 500},  # one page holds them all (300)
            )
            rows: list[dict[str, object]] = response.json()
            return rows if {r["registration_id"] for r in rows} >= answered_ids else None

        rows = await wait_until(participant_list, timeout=60, what="the participant list")

        # No registration lost, none twice: exactly the answered ones, once each.
        assert len(rows) == PEOPLE
        assert {r["registration_id"] for r in rows} == answered_ids
        assert len({r["email"] for r in rows}) == PEOPLE
        status = Counter(r["status"] for r in rows)
        assert status == {"confirmed": SEATS, "waitlisted": PEOPLE - SEATS}
        positions = sorted(int(str(r["waiting_position"])) for r in rows if r["waiting_position"])
        assert positions == list(range(1, PEOPLE - SEATS + 1))
        for key, response in rush.answers.items():
            row = next(
                r for r in rows if r["registration_id"] == response.json()["registration_id"]
            )
            assert row["email"] == rush.email(int(key.rsplit("-", 1)[1]))

        # No seat given twice, and the projections are what the event stores say.
        await assert_events_projection_equals_rebuild(events_db, system.prefix, meeting)
        await assert_roster_equals_rebuild(membership_db, members.values())

        # Every mail sent once: confirmations to the seated, notices to the waiting,
        # welcomes to the contacts.
        expected = PEOPLE + len(members)

        async def mail_settled() -> bool:
            return await deliveries_settled(notifications_db, expected)

        await wait_until(mail_settled, timeout=90, what=f"{expected} mails sent")
        assert_mail_once(
            smtp,
            confirmed={str(r["email"]) for r in rows if r["status"] == "confirmed"},
            waitlisted={str(r["email"]) for r in rows if r["status"] == "waitlisted"},
            contacts={contact_email(code) for code in members},
        )
        feed = await assert_feed_equals_rebuild(notifications_db)
        assert len(feed) == expected
        for db, service in (
            (membership_db, "membership"),
            (events_db, "events"),
            (notifications_db, "notifications"),
        ):
            assert await active_relays(db, service) == 1
