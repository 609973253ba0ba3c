"""Is a read model complete? Whether it holds everything its topics held at some moment.

A read model fed from Kafka lags its topics a little. Most questions can live with that,
but some cannot take a "no" from a read model that might simply not have seen the event
yet (a municipality that joined a moment ago must not be refused). For those:
:meth:`ViewFreshness.complete_since` answers True only when, in a round that *started
after* the question was asked, the topics' end offsets were fetched from Kafka and the
consumer had applied every partition up to them (``subscription_positions``, written by a
subscription with ``track_positions`` in the transaction that applied the records).
Whatever was on the topics when the question was asked is then in the read model: read
it again and the answer is authoritative. A producer that wants "answered" to mean "on
the topic" waits for its outbox row to be published before it answers (see
:class:`services.kernel.outbox.PublishedWaiter`).

Rounds are shared: every question waiting at a moment is answered by the same round, so a
rush costs one end-offsets request and one small query per round, not one per question.
While the consumer is behind, rounds repeat (``interval_s`` apart) until it has caught up
or ``max_wait_s`` has passed; then the answer is False and the caller must find out
another way (or say it cannot: 503), never guess.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Counter, Gauge

from services.kernel.kafka import KafkaSettings

log = structlog.get_logger(__name__)

ROUNDS = Counter(
    "view_freshness_rounds_total",
    "Rounds that compared a read model's applied offsets with its topics' end offsets",
    ["view", "outcome"],  # complete, behind, error
)
WAITING = Gauge(
    "view_freshness_waiting", "Questions waiting for a read model to be shown complete", ["view"]
)

Partition = tuple[str, int]


class EndOffsets(Protocol):
    """The end offsets of the partitions of some topics (Kafka's ListOffsets)."""

    async def end_offsets(self, topics: Sequence[str]) -> dict[Partition, int]: ...


class AppliedOffsets(Protocol):
    """Per partition, the offset after the last record a consumer has applied."""

    async def applied(self, consumer: str) -> dict[Partition, int]: ...


class ViewFreshness:
    """Tells whether one consumer's read model holds everything ``topics`` held at a moment.

    ``clock`` is monotonic seconds (injected for tests).
    """

    def __init__(
        self,
        name: str,
        consumer: str,
        topics: Sequence[str],
        ends: EndOffsets,
        applied: AppliedOffsets,
        *,
        max_wait_s: float = 2.0,
        interval_s: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.consumer = consumer
        self.topics = list(topics)
        self.ends = ends
        self.applied = applied
        self.max_wait_s = max_wait_s
        self.interval_s = interval_s
        self.clock = clock
        self.rounds = 0
        self._round: asyncio.Task[str] | None = None
        self._round_started = float("-inf")

    def now(self) -> float:
        """The moment of a question, for :meth:`complete_since` (the injected clock)."""
        return self.clock()

    async def complete_since(self, asked_at: float) -> bool:
        """True once a round started at or after ``asked_at`` (:meth:`now`) found the read
        model complete. False if none did within ``max_wait_s`` of the question, or at once
        when Kafka or the database could not be asked."""
        deadline = asked_at + self.max_wait_s
        WAITING.labels(self.name).inc()
        try:
            while True:
                round_, started = self._current_round()
                outcome = await asyncio.shield(round_)
                if started < asked_at:
                    continue  # the round began before the question: the next begins now
                if outcome != "behind":
                    return outcome == "complete"
                if self.clock() + self.interval_s > deadline:
                    return False
                await asyncio.sleep(self.interval_s)  # wait-ok: the consumer is catching up
        finally:
            WAITING.labels(self.name).dec()

    def _current_round(self) -> tuple[asyncio.Task[str], float]:
        """The round running now, or a new one (rounds never overlap)."""
        if self._round is None or self._round.done():
            self._round_started = self.clock()
            self._round = asyncio.create_task(self._compare())
        return self._round, self._round_started

    async def _compare(self) -> str:
        """complete, behind, or error (Kafka or the database could not be asked)."""
        self.rounds += 1
        try:
            ends = await self.ends.end_offsets(self.topics)
            applied = await self.applied.applied(self.consumer)
        except Exception as exc:
            ROUNDS.labels(self.name, "error").inc()
            log.warning("read model freshness unknown", view=self.name, error=repr(exc))
            return "error"
        complete = all(applied.get(tp, 0) >= end for tp, end in ends.items())
        outcome = "complete" if complete else "behind"
        ROUNDS.labels(self.name, outcome).inc()
        return outcome


class KafkaEndOffsets:
    """:class:`EndOffsets` from Kafka: partitions from the topics' metadata (an admin
    client, refreshed every ``metadata_max_age_s``, so partitions added to a topic are seen
    within that age), end offsets from one consumer that joins no group."""

    def __init__(self, kafka: KafkaSettings, *, metadata_max_age_s: float = 30.0) -> None:
        self.kafka = kafka
        self.metadata_max_age_s = metadata_max_age_s
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._partitions_of: tuple[str, ...] = ()
        self._partitions_at = float("-inf")
        self._lock = asyncio.Lock()

    async def end_offsets(self, topics: Sequence[str]) -> dict[Partition, int]:
        async with self._lock:
            admin, consumer = await self._started()
            names = tuple(self.kafka.topic(t) for t in topics)
            stale = time.monotonic() - self._partitions_at > self.metadata_max_age_s
            if stale or names != self._partitions_of:
                described = await admin.describe_topics(list(names))
                # A topic that does not exist has no partitions: nothing is on it.
                self._partitions = [
                    TopicPartition(d["topic"], p["partition"])
                    for d in described
                    if d["topic"] in names
                    for p in d["partitions"]
                ]
                self._partitions_of, self._partitions_at = names, time.monotonic()
            if not self._partitions:
                return {}
            ends = await consumer.end_offsets(self._partitions)
            return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def _started(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            await self.close()  # whatever a failed start left open
            admin = AIOKafkaAdminClient(**self.kafka.client_options())
            consumer = AIOKafkaConsumer(
                **self.kafka.client_options(), enable_auto_commit=False, group_id=None
            )
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                with contextlib.suppress(Exception):
                    await admin.close()
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def close(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()


class PostgresAppliedOffsets:
    """:class:`AppliedOffsets` from the ``subscription_positions`` table."""

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def applied(self, consumer: str) -> dict[Partition, int]:
        rows = await self._pool().fetch(
            """SELECT topic, partition, next_offset FROM subscription_positions
               WHERE consumer = $1""",
            consumer,
        )
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
