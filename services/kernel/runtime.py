"""One service process: its database pool, outbox relay, Kafka subscribers and readiness.

Each service's ``bootstrap.py`` builds a :class:`ServiceRuntime` and hands its ``lifespan``
to FastAPI; several instances of a service can run at once (one relay is active among
them, subscribers share partitions through their consumer group).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aiokafka.errors import KafkaError
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from contracts.base import EventPayload
from services.kernel.clock import Clock, SystemClock
from services.kernel.db import Migration, create_pool
from services.kernel.deadletters import install_dead_letter_routes
from services.kernel.eventstore import MIGRATIONS as EVENT_STORE_MIGRATIONS
from services.kernel.housekeeping import Housekeeping, HousekeepingSettings
from services.kernel.idempotency import MIGRATIONS as IDEMPOTENCY_MIGRATIONS
from services.kernel.kafka import (
    KafkaAuthenticationError,
    KafkaReplicationError,
    KafkaSettings,
    KafkaTlsError,
    KafkaTopicError,
    KafkaUnreachableError,
    diagnose,
    ensure_topics,
)
from services.kernel.lifecycle import running
from services.kernel.metrics import CONSUMER_LAG, OUTBOX_UNPUBLISHED, RELAY_LAG, consumer_lag
from services.kernel.outbox import OutboxRelay, relay_lag_seconds, unpublished_count
from services.kernel.subscriber import Subscription

log = structlog.get_logger(__name__)


@dataclass
class ServiceRuntime:
    """Owns the long-lived resources of one service process."""

    name: str
    dsn: str
    kafka: KafkaSettings
    migrations: Sequence[Migration] = ()
    topics: dict[str, int] = field(default_factory=dict)
    run_relay: bool = True
    pool_size: int = 20
    port: int | None = None
    """The HTTP port: with the host name it names this instance in its consumer groups
    (``KafkaSettings.instance_id``)."""
    housekeeping: HousekeepingSettings = field(default_factory=HousekeepingSettings)
    """What the database keeps how long (idempotency records, published outbox rows,
    processed event ids): swept in the background by every instance, one at a time."""
    metrics_interval_s: float = 15.0
    """How often the gauges of ``/metrics`` (relay and consumer lag) are computed, in the
    background: a scrape only reads them, so nobody can make ``/metrics`` open clients."""
    wall_clock: Clock = field(default_factory=SystemClock)
    """Real time, for the housekeeping's horizons (a service's domain clock may run as of
    a demo date, and the swept rows carry the database's timestamps)."""
    broker: KafkaBroker = field(init=False)
    relay: OutboxRelay = field(init=False)
    subscriptions: list[Subscription] = field(default_factory=list, init=False)
    background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = field(
        default_factory=list, init=False
    )
    """Loops run while the service runs (each gets the stop event); e.g. a sweeper."""
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list, init=False)
    """Called at stop, after the pool closed: other resources (the key vault's pool)."""
    _pool: asyncpg.Pool | None = field(default=None, init=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list, init=False)
    kafka_error: ConnectionError | None = field(default=None, init=False)
    """Why Kafka could not be used at start (readiness reports it); None once it could."""
    _relay_started: bool = field(default=False, init=False)
    _kafka_retry: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.broker = KafkaBroker(
            self.kafka.servers(),
            security=self.kafka.faststream_security(),
            client_id=self.name,
            logger=None,
            # It publishes the dead letters: as safely as the relay publishes events.
            **self.kafka.producer_options(),
        )
        self.relay = OutboxRelay(self.dsn, self.kafka, name=f"{self.name}-outbox-relay")

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.name}: the database pool is not open yet")
        return self._pool

    def subscribe(self, subscription: Subscription) -> None:
        """Attach a subscription to this service's broker (before start)."""
        self.subscriptions.append(subscription)
        subscription.attach(self.broker, instance_id=self.kafka.instance_id(self.port))

    def document(self, models: Sequence[type[EventPayload]]) -> None:
        """Declare what this service publishes, for the AsyncAPI document.

        The relay does the publishing; these publishers only describe the channels.
        """
        by_topic: dict[str, list[type[EventPayload]]] = {}
        for model in models:
            by_topic.setdefault(model.topic, []).append(model)
        for topic, topic_models in by_topic.items():
            for model in topic_models:
                self.broker.publisher(
                    self.kafka.topic(topic),
                    title=f"{topic}:{model.type_name()}",
                    description=(model.__doc__ or "").strip()
                    + f" CloudEvents type `{model.type_name()}`, binary mode; key = subject.",
                    schema=model,
                )

    def asyncapi(self, version: str = "1.0.0", description: str = "") -> AsyncAPI:
        return AsyncAPI(
            self.broker, title=f"KL {self.name} service", version=version, description=description
        )

    async def start(self) -> None:
        self._pool = await create_pool(
            self.dsn,
            [*EVENT_STORE_MIGRATIONS, *IDEMPOTENCY_MIGRATIONS, *self.migrations],
            max_size=self.pool_size,
        )
        housekeeping = Housekeeping(
            lambda: self.pool,
            self.housekeeping,
            clock=self.wall_clock,
            name=f"{self.name}-housekeeping",
        )
        self._tasks.append(asyncio.create_task(housekeeping.run(self._stop)))
        self._tasks.append(asyncio.create_task(self._metrics_loop(self._stop)))
        try:
            await self._start_kafka()
        except (KafkaError, OSError, TimeoutError) as exc:
            # The HTTP API works without Kafka (events wait in the outbox): run, report
            # "not ready" with the reason, and keep trying in the background.
            self.kafka_error = await self._kafka_failure(exc)
            log.error(
                "kafka not usable, retrying in the background",
                service=self.name,
                reason=type(self.kafka_error).__name__,
                error=str(self.kafka_error),
            )
            self._kafka_retry = asyncio.create_task(self._retry_kafka())
        log.info("service started", service=self.name)

    async def _start_kafka(self) -> None:
        """Topics, then the relay, then the subscribers (or the publisher connection)."""
        topics = dict(self.topics)
        for sub in self.subscriptions:
            for topic in sub.topics:
                topics.setdefault(topic, 3)
        if topics:
            await ensure_topics(self.kafka, topics)
        if self.run_relay and not self._relay_started:
            self._relay_started = True
            self._tasks.append(asyncio.create_task(self.relay.run(self._stop)))
        for loop in self.background:
            self._tasks.append(asyncio.create_task(loop(self._stop)))
        if self.subscriptions:
            await self.broker.start()
        else:
            await self.broker.connect()

    async def _kafka_failure(self, exc: BaseException) -> ConnectionError:
        explained = (
            KafkaAuthenticationError,
            KafkaTlsError,
            KafkaUnreachableError,
            KafkaReplicationError,
            KafkaTopicError,
        )
        if isinstance(exc, explained):
            return exc  # already explained (ensure_topics diagnoses)
        return await diagnose(self.kafka) or KafkaUnreachableError(str(exc) or type(exc).__name__)

    async def _retry_kafka(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)  # back-off between attempts
            if self._stop.is_set():
                return
            with contextlib.suppress(Exception):
                await self.broker.stop()  # what the failed start left open
            try:
                await self._start_kafka()
            except Exception as exc:  # whatever it is, readiness tells it; try again later
                self.kafka_error = await self._kafka_failure(exc)
                delay = min(delay * 2, 30.0)
                continue
            self.kafka_error = None
            log.info("kafka usable again", service=self.name)
            return

    async def stop(self) -> None:
        self._stop.set()
        if self._kafka_retry is not None:  # first, so it cannot start the broker after this
            self._kafka_retry.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._kafka_retry
        with contextlib.suppress(Exception):
            await self.broker.stop()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        if self._pool is not None:
            await self._pool.close()
        for close in self.closers:
            with contextlib.suppress(Exception):
                await close()
        log.info("service stopped", service=self.name)

    def lifespan(self, _: Any) -> AbstractAsyncContextManager[None]:
        """The FastAPI lifespan: started before serving, stopped after."""
        return running(self)

    async def check_database(self) -> None:
        async with asyncio.timeout(2):
            await self.pool.fetchval("SELECT 1")

    async def check_kafka(self) -> None:
        error = self.kafka_error
        if error is not None:
            raise type(error)(str(error))
        async with asyncio.timeout(2):
            if not await self.broker.ping(timeout=2):
                raise KafkaUnreachableError("Kafka did not answer")

    async def refresh_metrics(self) -> None:
        """Set the relay and consumer-lag gauges (the background loop calls it)."""
        try:
            async with asyncio.timeout(max(3.0, self.metrics_interval_s)):
                OUTBOX_UNPUBLISHED.set(await unpublished_count(self.pool))
                RELAY_LAG.set(await relay_lag_seconds(self.pool))
                if self.subscriptions and self.kafka_error is None:
                    groups = [sub.name for sub in self.subscriptions]
                    for lag in await consumer_lag(self.kafka, groups):
                        CONSUMER_LAG.labels(lag.group, lag.topic).set(lag.lag)
        except Exception as exc:  # the gauges keep their last values; the next round tries
            log.warning("metrics not refreshed", error=type(exc).__name__)

    async def _metrics_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.refresh_metrics()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.metrics_interval_s)  # the interval

    def install_admin_routes(self, app: FastAPI) -> None:
        """Operator routes every service has: ``GET /admin/dead-letters``."""
        install_dead_letter_routes(
            app, self.kafka, lambda: sorted({t for sub in self.subscriptions for t in sub.topics})
        )

    def readiness_checks(self) -> list[tuple[str, Any]]:
        return [("database", self.check_database), ("kafka", self.check_kafka)]
