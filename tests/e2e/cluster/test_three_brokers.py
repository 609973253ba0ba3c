"""The whole system on a cluster of three Kafka brokers, one of which is lost.

The three services run as processes against ``KAFKA_BROKERS=3 deploy/local/stack.sh`` (three
KRaft nodes, each broker and controller); the topics they create get three copies, two of
which must have a write before Kafka acknowledges it.

1. A rush of registrations and joins. The broker that leads the meeting's partition is
   SIGKILLed in the middle of it; registrations and joins go on while it is gone (first before
   the cluster has noticed, then after it has moved the partition's leadership), and it is
   started again while more come in, and catches up. Then: every answered registration is in
   the event store, on the meetings topic exactly once (by ``ce_id``), in every projection
   (availability and participants, the notifications feed) and mailed once; every join
   likewise; and the services stayed ready, or were ready again within seconds (measured and
   printed).
2. The broker that coordinates the notifications consumer group is stopped while the
   consumer has a batch in flight: it has taken the batch from Kafka and waits, inside its
   transaction, for a lock the test holds. The lock is let go once the broker is down; the
   batch commits, its offsets go to the group's new coordinator, and nothing is mailed twice
   or left out.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
import httpx

from contracts.meetings import MEETING_TOPIC
from contracts.membership import MEMBERSHIP_TOPIC
from services.kernel.kafka import dead_letter_topic
from tests.e2e.operations.harness import (
    CODES,
    Rush,
    answered,
    assert_events_projection_equals_rebuild,
    assert_feed_equals_rebuild,
    assert_mail_once,
    assert_roster_equals_rebuild,
    contact_email,
    deliveries_settled,
    join_members,
    members_and_meeting,
    outbox_drained,
    pool_of,
    ready,
    seating_from_store,
)
from tests.support import auth
from tests.support.cluster import Cluster
from tests.support.kafka import read_topic, topic_replication
from tests.support.system import System
from tests.support.waiting import wait_until

SEATS = 40
PHASE = 50
"""Registrations in each phase of the first test (four phases)."""
CLIENTS = 8


@dataclass
class Readiness:
    """``/readyz`` of every instance, asked every 0.2 s while :meth:`watching` runs."""

    http: httpx.AsyncClient
    system: System
    down_since: dict[str, float] = field(default_factory=dict)
    outages: dict[str, list[float]] = field(default_factory=dict)
    """Per instance: how long each stretch of "not ready" lasted, in seconds."""
    checks: int = 0

    async def _round(self) -> None:
        for service, processes in self.system.instances.items():
            for i, process in enumerate(processes):
                name = f"{service}[{i}]"
                ok = await ready(self.http, process.url)
                now = time.monotonic()
                if not ok:
                    self.down_since.setdefault(name, now)
                elif name in self.down_since:
                    self.outages.setdefault(name, []).append(now - self.down_since.pop(name))
        self.checks += 1

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        stop = asyncio.Event()

        async def loop() -> None:
            while not stop.is_set():
                await self._round()
                # The interval between rounds, cut short when the watch ends.
                await asyncio.wait([asyncio.ensure_future(stop.wait())], timeout=0.2)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            stop.set()
            await task
            await self._round()

    def report(self) -> str:
        if not self.outages and not self.down_since:
            return f"every instance ready at each of {self.checks} checks"
        parts = [
            f"{name}: {len(spans)} time(s), longest {max(spans):.1f} s"
            for name, spans in sorted(self.outages.items())
        ]
        parts += [f"{name}: still not ready" for name in sorted(self.down_since)]
        return "not ready: " + "; ".join(parts)

    def longest(self) -> float:
        return max((s for spans in self.outages.values() for s in spans), default=0.0)


async def start_services(system: System) -> None:
    await system.start("membership")
    await asyncio.gather(system.start("events"), system.start("notifications"))


async def ce_ids(system: System, cluster: Cluster, topic: str, expect: int) -> Counter[str]:
    """How many times each ``ce_id`` is on the system's ``topic`` (read from the start)."""
    records = await read_topic(
        system.prefix + topic, expect=expect, timeout=60, bootstrap=cluster.bootstrap
    )
    return Counter(dict(r.headers)["ce_id"].decode() for r in records)


async def stored_event_ids(pool: asyncpg.Pool, topic: str) -> list[str]:
    """The ids of the events a service stored for ``topic`` (its outbox holds each once)."""
    rows = await pool.fetch("SELECT event_id FROM outbox WHERE topic = $1", topic)
    return [str(r["event_id"]) for r in rows]


async def test_a_broker_killed_in_a_rush_and_started_later_loses_and_doubles_nothing(
    system: System, cluster: Cluster
) -> None:
    t0 = time.monotonic()
    await start_services(system)
    codes = CODES[:12]
    late_codes = [CODES[12:15], CODES[15:18]]
    async with (
        httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as http,
        pool_of(system.dsn("membership")) as membership_db,
        pool_of(system.dsn("events")) as events_db,
        pool_of(system.dsn("notifications")) as notifications_db,
    ):
        # The services made their topics on the cluster: three copies, two in sync.
        meetings_topic = system.prefix + MEETING_TOPIC
        for topic in (meetings_topic, dead_letter_topic(meetings_topic)):
            kept = await topic_replication(topic, cluster.bootstrap)
            assert (kept.copies, kept.min_insync_replicas) == ({3}, "2"), topic

        members, meeting = await members_and_meeting(
            http, system, events_db, codes, "tre-maeglere", SEATS
        )
        key = await events_db.fetchval(
            """SELECT o.key FROM outbox o JOIN events e USING (event_id)
               WHERE e.stream_id = $1 LIMIT 1""",
            meeting,
        )
        victim = await cluster.leader_for_key(meetings_topic, key)

        def phase(n: int) -> Rush:
            return Rush(meeting, PHASE, CLIENTS, lambda _: system.url("events"), codes, n * 1000)

        phases = [phase(n) for n in range(4)]
        timings: dict[str, float] = {}
        readiness = Readiness(http, system)
        async with readiness.watching():
            await phases[0].run(http)

            # The meeting partition's leader dies while registrations are in flight.
            running = asyncio.create_task(phases[1].run(http))
            await answered(phases[1], PHASE // 5)
            killed = time.monotonic()
            await cluster.kill(victim)
            late = asyncio.create_task(
                join_members(http, lambda _: system.url("membership"), late_codes[0])
            )
            await running

            # The cluster fences the lost broker and gives its partitions new leaders.
            async def moved() -> bool:
                return await cluster.leader_for_key(meetings_topic, key) != victim

            await wait_until(moved, timeout=60, interval=0.2, what="a new partition leader")
            timings["new leader after the kill"] = time.monotonic() - killed
            members |= await late
            late = asyncio.create_task(
                join_members(http, lambda _: system.url("membership"), late_codes[1])
            )
            await phases[2].run(http)

            # Started again while more registrations come in.
            restart = asyncio.create_task(cluster.start())
            await phases[3].run(http)
            timings["stack.sh up (the node back)"] = await restart
            timings["the node away, in all"] = time.monotonic() - killed
            members |= await late

            # The node catches up: each partition has its three copies in sync again.
            async def in_sync() -> bool:
                return await cluster.in_sync(meetings_topic) == {3}

            await wait_until(in_sync, timeout=60, interval=0.2, what="three copies in sync")
            timings["three copies in sync after the kill"] = time.monotonic() - killed

            # Recovery: every outbox published, every projection caught up.
            answers = [r for p in phases for r in p.answers.values()]
            assert {r.status_code for r in answers} <= {201, 202}, [r.text for r in answers]
            accepted = {r.json()["registration_id"] for r in answers}
            assert len(accepted) == len(answers) == 4 * PHASE

            async def caught_up() -> list[dict[str, object]] | None:
                if not (await outbox_drained(events_db) and await outbox_drained(membership_db)):
                    return None
                response = await http.get(
                    f"{system.url('events')}/meetings/{meeting}/registrations",
                    params={"limit": 500},
                )
                rows: list[dict[str, object]] = response.json()
                return rows if {r["registration_id"] for r in rows} == accepted else None

            listed = await wait_until(caught_up, timeout=120, what="every registration listed")
            assert listed is not None
            rows = listed
            expected_mail = len(rows) + len(members)

            async def mail_settled() -> bool:
                return await deliveries_settled(notifications_db, expected_mail)

            await wait_until(mail_settled, timeout=120, what=f"{expected_mail} mails sent")

        # Every answered registration is in the store, once, as answered.
        seating = await seating_from_store(events_db, meeting)
        assert set(seating.status) == accepted
        assert Counter(seating.status.values()) == {
            "confirmed": SEATS,
            "waitlisted": 4 * PHASE - SEATS,
        }
        # On the topics exactly once by ce_id: the meeting's events and the memberships.
        for db, topic in ((events_db, MEETING_TOPIC), (membership_db, MEMBERSHIP_TOPIC)):
            stored = await stored_event_ids(db, topic)
            on_topic = await ce_ids(system, cluster, topic, expect=len(stored))
            assert set(on_topic) == set(stored), topic
            twice = {ce_id: n for ce_id, n in on_topic.items() if n != 1}
            assert twice == {}, f"{topic}: events on the topic more than once"

        # In every projection, each mail once.
        await assert_events_projection_equals_rebuild(events_db, system.prefix, meeting)
        await assert_roster_equals_rebuild(membership_db, members.values())
        assert_mail_once(
            system.smtp,
            confirmed={str(r["email"]) for r in rows if r["status"] == "confirmed"},
            waitlisted={str(r["email"]) for r in rows if r["status"] == "waitlisted"},
            contacts={contact_email(code) for code in members},
        )
        assert len(await assert_feed_equals_rebuild(notifications_db)) == expected_mail

        relay_stall = await events_db.fetchval(
            "SELECT extract(epoch FROM max(published_at - created_at))::float8 FROM outbox"
        )
        retried = sum(len(p.retried) for p in phases)
        print(
            f"\nbroker {victim} killed (leader of the meeting's partition): "
            + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
            + f"; longest wait of an event in the outbox {relay_stall:.1f} s"
            + f"; client retries {retried}; readiness: {readiness.report()}"
            + f"; test {time.monotonic() - t0:.0f} s"
        )
        assert not readiness.down_since, readiness.report()
        assert readiness.longest() < 15, readiness.report()


BATCH_WAITING = """SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'
                     AND query LIKE 'INSERT INTO processed_events%'"""
"""Transactions of the subscriber waiting, after taking their batch, for the test's lock."""


async def test_a_broker_stopped_while_notifications_has_a_batch_in_flight_loses_nothing(
    system: System, cluster: Cluster
) -> None:
    t0 = time.monotonic()
    await start_services(system)
    codes = CODES[:6]
    async with (
        httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as http,
        pool_of(system.dsn("events")) as events_db,
        pool_of(system.dsn("notifications")) as notifications_db,
    ):
        members, meeting = await members_and_meeting(
            http, system, events_db, codes, "midt-i-batch", seats=10
        )

        async def welcomed() -> bool:
            return await deliveries_settled(notifications_db, len(members))

        await wait_until(welcomed, timeout=60, what="the welcome mails")
        group = system.prefix + "notifications"
        coordinator = await cluster.coordinator(group)
        before = Rush(meeting, 30, 6, lambda _: system.url("events"), codes)
        after = Rush(meeting, 20, 4, lambda _: system.url("events"), codes, offset=1000)
        async with notifications_db.acquire() as blocker:
            # The consumer takes its next batch from Kafka, opens its transaction and waits
            # here, before it has recorded or applied anything.
            holding = blocker.transaction()
            await holding.start()
            try:
                await blocker.execute("LOCK TABLE processed_events IN EXCLUSIVE MODE")
                await before.run(http)

                async def batch_in_flight() -> bool:
                    return bool(await notifications_db.fetchval(BATCH_WAITING))

                await wait_until(batch_in_flight, timeout=60, what="a batch waiting for the lock")
                stopped_in = await cluster.stop(coordinator)
                assert await notifications_db.fetchval(BATCH_WAITING), "the batch went on?"
            finally:
                await holding.rollback()  # the batch goes on, with the coordinator gone

        # More registrations while the broker is away; then it is started again.
        await after.run(http)
        started_in = await cluster.start()
        answers = [*before.answers.values(), *after.answers.values()]
        assert {r.status_code for r in answers} <= {201, 202}
        accepted = {r.json()["registration_id"] for r in answers}
        assert len(accepted) == 50

        expected = len(accepted) + len(members)

        async def mail_settled() -> bool:
            return await deliveries_settled(notifications_db, expected)

        await wait_until(mail_settled, timeout=120, what=f"{expected} mails sent")
        rows = (
            await http.get(
                f"{system.url('events')}/meetings/{meeting}/registrations", params={"limit": 500}
            )
        ).json()
        assert {r["registration_id"] for r in rows} == accepted
        assert_mail_once(
            system.smtp,
            confirmed={r["email"] for r in rows if r["status"] == "confirmed"},
            waitlisted={r["email"] for r in rows if r["status"] == "waitlisted"},
            contacts={contact_email(code) for code in members},
        )
        assert len(await assert_feed_equals_rebuild(notifications_db)) == expected
        ready_now = await asyncio.gather(
            *(ready(http, p.url) for ps in system.instances.values() for p in ps)
        )
        assert all(ready_now)
        print(
            f"\nbroker {coordinator} (the notifications group's coordinator) stopped in "
            f"{stopped_in:.1f} s with a batch in flight, started again in {started_in:.1f} s; "
            f"test {time.monotonic() - t0:.0f} s"
        )
