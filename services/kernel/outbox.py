"""The outbox relay: publishes appended events to Kafka, in order, at least once.

One relay per service database is active at a time: it holds a session-level advisory
lock, and other instances wait as standbys, taking over when the active one dies (its
connection closes, PostgreSQL releases the lock). The active relay reads unpublished
outbox rows in id order, sends them with an idempotent producer (acks=all), and marks them
published only after Kafka has acknowledged them. A crash between send and mark publishes
those rows again on the next start: a duplicate, never a loss; consumers dedupe by event id.

Rows are selected as "not yet published", not "after the last id I saw", so a row whose
transaction commits late with a lower id is still published. Order within a key holds: a
stream's next version can only commit after its previous one (the unique version index).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter

from services.kernel.db import init_connection, lock_key
from services.kernel.eventstore import OUTBOX_CHANNEL
from services.kernel.kafka import KafkaSettings

log = structlog.get_logger(__name__)

PUBLISH_WAITS = Counter(
    "outbox_publish_waits_total",
    "Commands that waited for their events to be on Kafka before answering",
    ["outcome"],  # published, timeout, skipped
)


class OutboxRelay:
    """Moves outbox rows of one database to Kafka. Run :meth:`run` as a task.

    Woken by a commit's NOTIFY, the relay waits ``gather_s`` (10 ms) before it reads the
    outbox, so the transactions committing at that moment travel in the same Kafka batch:
    with 50 meetings in a rush (one small transaction per decision) this halved Kafka's CPU
    and lowered the projection lag (docs/benchmarks.md, item 13). A full batch is followed
    by the next at once.
    """

    def __init__(
        self,
        dsn: str,
        kafka: KafkaSettings,
        *,
        name: str = "outbox-relay",
        batch_size: int = 500,
        poll_interval: float = 1.0,
        standby_interval: float = 1.0,
        gather_s: float = 0.01,
    ) -> None:
        self.dsn = dsn
        self.kafka = kafka
        self.name = name
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.standby_interval = standby_interval
        self.gather_s = gather_s
        self.is_active = False
        self.published_total = 0
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; reconnects after database or Kafka failures."""
        delay = 0.2
        while not stop.is_set():
            try:
                await self._run_once(stop)
                delay = 0.2
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("relay lost its connection, retrying", error=str(exc))
            except Exception as exc:  # Kafka errors of many types; keep going
                log.warning("relay failed, retrying", error=repr(exc))
            self.is_active = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)  # back-off before reconnecting
            delay = min(delay * 2, 5.0)

    async def _run_once(self, stop: asyncio.Event) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self.dsn)
        try:
            await init_connection(conn)
            key = lock_key(self.name)  # advisory locks are per database
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                if stop.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.standby_interval)  # standby
            self.is_active = True
            log.info("relay active")
            await conn.add_listener(OUTBOX_CHANNEL, self._on_notify)
            producer = AIOKafkaProducer(
                **self.kafka.client_options(),
                **self.kafka.producer_options(),  # acks=all, idempotent
                linger_ms=2,
                max_request_size=2 * 1024 * 1024,
            )
            await producer.start()
            try:
                while not stop.is_set():
                    sent = await self.publish_batch(conn, producer)
                    if sent < self.batch_size:
                        await self._wait_for_work(stop)
                        if self.gather_s:
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(stop.wait(), self.gather_s)
            finally:
                await producer.stop()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        stop_task = asyncio.ensure_future(stop.wait())
        wake_task = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait(
                {stop_task, wake_task},
                timeout=self.poll_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stop_task.cancel()
            wake_task.cancel()

    async def publish_batch(self, conn: asyncpg.Connection, producer: AIOKafkaProducer) -> int:
        """Publish one batch of unpublished rows; return how many."""
        rows = await conn.fetch(
            """
            SELECT id, topic, key, headers, value FROM outbox
            WHERE published_at IS NULL ORDER BY id LIMIT $1
            """,
            self.batch_size,
        )
        if not rows:
            return 0
        futures = [
            await producer.send(
                self.kafka.topic(row["topic"]),
                value=row["value"],
                key=row["key"],
                headers=[(name, value.encode()) for name, value in row["headers"].items()],
            )
            for row in rows
        ]
        await asyncio.gather(*futures)
        await self.mark_published(conn, rows)
        self.published_total += len(rows)
        return len(rows)

    async def mark_published(
        self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]
    ) -> None:
        """Mark ``rows`` published: Kafka has acknowledged every one of them."""
        await conn.execute(
            "UPDATE outbox SET published_at = clock_timestamp() WHERE id = ANY($1::bigint[])",
            [row["id"] for row in rows],
        )


async def unpublished_count(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return count


async def relay_lag_seconds(conn: asyncpg.Connection | asyncpg.Pool) -> float:
    """Age of the oldest unpublished row (0 when all are published)."""
    lag: float | None = await conn.fetchval(
        """SELECT extract(epoch FROM clock_timestamp() - min(created_at))::float8
           FROM outbox WHERE published_at IS NULL"""
    )
    return lag or 0.0


class PublishedWaiter:
    """Waits until events a command appended are on Kafka: their outbox rows published.

    A service whose answer must mean "the others can know it now" (a municipality that
    joined may register the next moment, and the events service decides from its own view
    of the membership topic) calls :meth:`wait` after its transaction committed and before
    it answers. The relay publishes within a few milliseconds of the commit; the waiter
    looks with a short back-off (5, 10, 20 ... 100 ms) up to ``timeout_s``. It does not
    wait while ``usable()`` says Kafka is known to be unusable from this process, and after
    the timeout it answers anyway: the command is done; only its announcement is late (a
    reader that cannot see the event then asks the owner, see
    :mod:`services.kernel.freshness`). After a timeout (Kafka or the relay away), the next
    commands only look once, for ``degraded_s``, instead of each waiting the full timeout.
    """

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        *,
        timeout_s: float = 2.0,
        usable: Callable[[], bool] = lambda: True,
        degraded_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self.timeout_s = timeout_s
        self.usable = usable
        self.degraded_s = degraded_s
        self.clock = clock
        self._degraded_until = float("-inf")

    async def wait(self, event_ids: Sequence[UUID]) -> bool:
        """True when every one of ``event_ids`` is published (False: timed out or skipped)."""
        if not event_ids:
            return True
        if self.timeout_s <= 0 or not self.usable():
            PUBLISH_WAITS.labels("skipped").inc()
            return False
        now = self.clock()
        deadline = now + (0.0 if now < self._degraded_until else self.timeout_s)
        delay = 0.005
        while True:
            unpublished = await self._pool().fetchval(
                """SELECT count(*) FROM outbox
                   WHERE published_at IS NULL AND event_id = ANY($1::uuid[])""",
                list(event_ids),
            )
            if not unpublished:
                PUBLISH_WAITS.labels("published").inc()
                self._degraded_until = float("-inf")
                return True
            if self.clock() + delay > deadline:
                PUBLISH_WAITS.labels("timeout").inc()
                self._degraded_until = self.clock() + self.degraded_s
                log.warning("events not yet on Kafka; answering anyway", events=len(event_ids))
                return False
            await asyncio.sleep(delay)  # wait-ok: back-off while the relay publishes
            delay = min(delay * 2, 0.1)


def arguments() -> argparse.ArgumentParser:
    """The options of a relay run alone (see :func:`main`)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    parser.add_argument("--topic-prefix", default="")
    parser.add_argument("--batch-size", type=int, default=500)
    return parser


def relay_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`OutboxRelay` arguments of parsed :func:`arguments`."""
    kafka = KafkaSettings(bootstrap_servers=args.bootstrap, topic_prefix=args.topic_prefix)
    return {"dsn": args.dsn, "kafka": kafka, "batch_size": args.batch_size}


def run_alone(relay: OutboxRelay) -> None:
    """Run ``relay`` in this process until SIGTERM or SIGINT."""
    from services.kernel.logging import configure_logging

    configure_logging("outbox-relay")

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await relay.run(stop)

    asyncio.run(_main())


def main() -> None:
    """Run a relay alone: ``python -m services.kernel.outbox --dsn ... --bootstrap ...``."""
    run_alone(OutboxRelay(**relay_options(arguments().parse_args())))


if __name__ == "__main__":
    main()
