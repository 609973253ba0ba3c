"""A service whose Kafka is not there at start runs, says so, and heals when it comes.

Kafka is reached through a TCP forwarder that is not listening at first: the runtime must
start anyway (commands only need PostgreSQL), report Kafka not ready with the reason, keep
trying, and then relay and consume without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from services.kernel.eventstore import EventStore, NewEvent
from services.kernel.kafka import KafkaSettings, KafkaUnreachableError
from services.kernel.outbox import unpublished_count
from services.kernel.runtime import ServiceRuntime
from services.kernel.subscriber import Subscription
from tests.integration.kernel.conftest import (
    PROJECTION,
    TOPIC,
    Incremented,
    apply_incremented,
    test_registry,
)
from tests.support.ports import free_port
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until


class Forwarder:
    """127.0.0.1:port -> the stack's Kafka, once :meth:`open` is called."""

    def __init__(self) -> None:
        self.port = free_port()
        host, _, port = KAFKA_BOOTSTRAP.split(",")[0].rpartition(":")
        self.target = (host, int(port))
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@pytest.fixture
async def forwarder() -> AsyncIterator[Forwarder]:
    forwarder = Forwarder()
    try:
        yield forwarder
    finally:
        await forwarder.close()


async def test_a_runtime_started_before_kafka_reports_it_and_heals_without_a_restart(
    fresh_dsn: str, topic_prefix: str, unique: str, forwarder: Forwarder
) -> None:
    kafka = KafkaSettings(
        bootstrap_servers=f"127.0.0.1:{forwarder.port}", topic_prefix=topic_prefix
    )
    runtime = ServiceRuntime(
        name="kernel-test", dsn=fresh_dsn, kafka=kafka, migrations=[PROJECTION]
    )
    runtime.subscribe(
        Subscription(
            name=f"counter-view-{unique}",
            topics=[TOPIC],
            handlers={Incremented: apply_incremented},
            registry=test_registry,
            pool=lambda: runtime.pool,
            kafka=kafka,
        )
    )
    await runtime.start()  # Kafka is not there: no exception
    try:
        assert isinstance(runtime.kafka_error, KafkaUnreachableError)
        with pytest.raises(KafkaUnreachableError, match=f"127.0.0.1:{forwarder.port}"):
            await runtime.check_kafka()
        await runtime.check_database()
        async with runtime.pool.acquire() as conn:
            await EventStore(source="/kl/test").append(
                conn,
                stream_id="counter-a",
                expected_version=0,
                events=[NewEvent(Incremented.type_name(), Incremented(counter="a", n=1).to_data())],
                topic=TOPIC,
            )
        assert await unpublished_count(runtime.pool) == 1

        await forwarder.open()

        async def ready() -> bool:
            try:
                await runtime.check_kafka()
            except ConnectionError:
                return False
            return True

        await wait_until(ready, timeout=60, what="Kafka ready without a restart")

        async def consumed() -> bool:
            applied = await runtime.pool.fetchval(
                "SELECT applied FROM counter_view WHERE counter = 'a'"
            )
            return applied == 1 and await unpublished_count(runtime.pool) == 0

        await wait_until(consumed, timeout=60, what="the event relayed and consumed")
    finally:
        await runtime.stop()
