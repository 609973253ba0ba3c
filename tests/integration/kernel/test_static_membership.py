"""A restarted subscriber takes its partitions back at once (static group membership).

A process that dies without leaving its consumer group (SIGKILL) stays a member until the
group's session timeout. A dynamic member that joins meanwhile waits for that timeout and
a rebalance; a static member that comes back with the same group instance id replaces the
dead one at once. The test sets a session timeout of 60 s and gives the restart 20 s: only
the static rejoin can be in time.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap

import asyncpg
from faststream.kafka import KafkaBroker

from services.kernel.eventstore import EventStore, NewEvent
from services.kernel.kafka import KafkaSettings, ensure_topics
from services.kernel.outbox import OutboxRelay
from services.kernel.subscriber import Subscription
from tests.integration.kernel.conftest import TOPIC, Incremented, apply_incremented, test_registry
from tests.support.kafka import group_members
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until

SESSION_TIMEOUT_MS = 60_000

CRASHING_MEMBER = textwrap.dedent(
    """
    import asyncio, sys
    from aiokafka import AIOKafkaConsumer

    async def main() -> None:
        bootstrap, topic, group, instance, session = sys.argv[1:6]
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=group, group_instance_id=instance,
            session_timeout_ms=int(session), heartbeat_interval_ms=3000,
            enable_auto_commit=False,
        )
        await consumer.start()  # returns once the group has assigned the partitions
        print("joined", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def members(group: str) -> list[str]:
    """The member ids of the group (a static member's begins with its group instance id)."""
    return [member[0] for member in await group_members(group)]


async def test_a_killed_subscriber_restarted_with_its_instance_id_rejoins_at_once(
    kafka_settings: KafkaSettings,
    pool: asyncpg.Pool,
    store: EventStore,
    fresh_dsn: str,
    unique: str,
) -> None:
    settings = kafka_settings.model_copy(update={"session_timeout_ms": SESSION_TIMEOUT_MS})
    group = f"counter-view-{unique}"
    topic = settings.topic(TOPIC)
    await ensure_topics(settings, {TOPIC: 3})
    crashing = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CRASHING_MEMBER,
        KAFKA_BOOTSTRAP,
        topic,
        group,
        "counter-view-1",
        str(SESSION_TIMEOUT_MS),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert crashing.stdout is not None
        line = await asyncio.wait_for(crashing.stdout.readline(), 60)
        assert line.strip() == b"joined"
    finally:
        crashing.kill()  # SIGKILL: no LeaveGroup, the group still counts it as a member
        await asyncio.wait_for(crashing.wait(), 10)
    [dead] = await members(group)
    assert dead.startswith("counter-view-1-")

    subscription = Subscription(
        name=group,
        topics=[TOPIC],
        handlers={Incremented: apply_incremented},
        registry=test_registry,
        pool=lambda: pool,
        kafka=settings,
    )
    broker = KafkaBroker(KAFKA_BOOTSTRAP, logger=None)
    subscription.attach(broker, instance_id="counter-view-1")
    try:
        # A dynamic member would wait here for the dead one's 60 s session to end.
        async with asyncio.timeout(20):
            await broker.start()
        [member] = await members(group)
        assert member.startswith("counter-view-1-")
        assert member != dead, "the new process took the dead one's place"

        # And it consumes: an event published now reaches the read model.
        async with pool.acquire() as conn:
            await store.append(
                conn,
                stream_id="counter-static",
                expected_version=0,
                events=[NewEvent(Incremented.type_name(), Incremented(counter="c", n=1).to_data())],
                topic=TOPIC,
            )
        relay = OutboxRelay(fresh_dsn, settings, poll_interval=0.2)
        stop = asyncio.Event()
        relay_task = asyncio.create_task(relay.run(stop))
        try:

            async def applied() -> bool:
                return bool(await pool.fetchval("SELECT count(*) FROM counter_view"))

            await wait_until(applied, timeout=30, what="the event in the read model")
        finally:
            stop.set()
            await asyncio.wait_for(relay_task, 10)
    finally:
        await broker.stop()
