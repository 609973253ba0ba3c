"""The subscriber runtime: Kafka events into read models with an exactly-once effect.

For each message: decode the CloudEvent and validate its payload; then, in one database
transaction, record (consumer, event id) in ``processed_events`` and apply the handler;
commit; only then acknowledge the offset. A redelivered event finds its id recorded and
has no second effect. A message that cannot be decoded, has an unknown type or a payload
that does not validate, or that the handler rejects as poison, goes to the topic's
dead-letter topic with the reason in its headers, and the partition moves on. A database
or network failure is not the message's fault: the runtime retries it with back-off and
the partition waits, so nothing is skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter

from contracts.base import EventPayload, EventRegistry
from contracts.envelope import Envelope, EnvelopeError, decode
from services.kernel.db import enter_shared
from services.kernel.kafka import KafkaSettings, dead_letter_topic
from services.kernel.logging import correlation

log = structlog.get_logger(__name__)

EVENTS_HANDLED = Counter(
    "events_handled_total", "Events consumed by a subscriber", ["consumer", "outcome"]
)

DLT_ERROR = "dlt_error"
DLT_TOPIC = "dlt_original_topic"
DLT_PARTITION = "dlt_original_partition"
DLT_OFFSET = "dlt_original_offset"
DLT_CONSUMER = "dlt_consumer"


_INFRASTRUCTURE_ERRORS = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    # 57xxx: the server is shutting down (AdminShutdown), crashed, or not yet accepting.
    asyncpg.OperatorInterventionError,
    # A pooled connection the server closed while idle (e.g. at its shutdown) can fail its
    # next use with "cannot switch to state ...": a broken connection, not a bug of ours.
    asyncpg.InternalClientError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    TimeoutError,
)
"""Not the message's fault: retried with back-off, forever; the partition waits."""


class PoisonMessageError(Exception):
    """A handler's way to say: this event can never be applied; dead-letter it."""


@dataclass(frozen=True)
class InboundEvent:
    """An event as a subscriber sees it: envelope, validated payload and where it came from."""

    envelope: Envelope
    payload: EventPayload
    topic: str
    partition: int
    offset: int


Handler = Callable[[asyncpg.Connection, InboundEvent], Awaitable[None]]
BatchHandler = Callable[[asyncpg.Connection, Sequence[InboundEvent]], Awaitable[None]]


def one_by_one(
    handled: Iterable[type[EventPayload]], on_events: BatchHandler
) -> dict[type[EventPayload], Handler]:
    """The handlers of a subscription whose ``batch_handler`` does all its work: each event
    alone is a batch of one (so applied when its batch failed and is retried event by event).
    """

    async def on_event(conn: asyncpg.Connection, event: InboundEvent) -> None:
        await on_events(conn, [event])

    return dict.fromkeys(handled, on_event)


def _place(event: InboundEvent) -> tuple[str, int, int]:
    return event.topic, event.partition, event.offset


class _BatchRefusedError(Exception):
    """A handler failed inside a batch: apply the batch's events one by one instead."""


@dataclass
class Subscription:
    """One consumer group that applies events of some topics to one read model.

    ``handlers`` maps payload models to handlers; events of other registered types are
    recorded as processed and otherwise ignored (a reader tolerates what it does not need).
    ``retry_delays`` is the back-off for infrastructure failures, repeated forever.

    ``batch_size`` > 1 consumes up to that many records at once and applies them in ONE
    transaction (dedup of all their ids in one statement, then ``batch_handler`` with the
    new events in order, or each event's handler), and commits the offsets once: a read
    model then keeps up with a rush instead of paying a transaction and an offset commit
    per event. If a handler fails inside a batch, nothing of the batch is kept and its
    events are applied one by one, so only a poison event is dead-lettered.

    ``guard`` names an advisory lock every transaction takes shared before anything else
    (see :func:`services.kernel.db.enter_shared`): a rebuild of the read model holds it
    exclusively and so never meets a half-done transaction of this subscription.

    ``track_positions`` records, per partition, the offset after the last record applied
    (in the same transaction) or dead-lettered, in ``subscription_positions``: a reader can
    then tell that the read model holds everything the topic held at some moment (see
    :mod:`services.kernel.freshness`).
    """

    name: str
    topics: Sequence[str]
    handlers: dict[type[EventPayload], Handler]
    registry: EventRegistry
    pool: Callable[[], asyncpg.Pool]
    kafka: KafkaSettings
    handler_attempts: int = 3
    max_message_bytes: int = 512 * 1024
    retry_delays: Sequence[float] = (0.1, 0.2, 0.5, 1.0, 2.0)
    batch_size: int = 1
    batch_handler: BatchHandler | None = None
    batch_wait_ms: int = 50
    guard: str | None = None
    track_positions: bool = False
    last_handled_at: float = field(default=0.0, init=False)

    def attach(self, broker: KafkaBroker, *, instance_id: str | None = None) -> None:
        """Register this subscription on a FastStream broker.

        With ``instance_id`` the consumer is a static member of its group: restarted with
        the same id, it gets its partitions back at once, without waiting for the group to
        notice the old process is gone (``session_timeout_ms``) and rebalance.
        """
        batched = self.batch_size > 1
        subscriber = broker.subscriber(
            *(self.kafka.topic(t) for t in self.topics),
            group_id=self.name,
            group_instance_id=instance_id,
            session_timeout_ms=self.kafka.session_timeout_ms,
            heartbeat_interval_ms=self.kafka.heartbeat_interval_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            batch=batched,  # the next two count for a batch subscriber only
            max_records=self.batch_size,
            batch_timeout_ms=self.batch_wait_ms,
            title=f"{self.name}:subscriber",
            description=f"Applies {', '.join(m.type_name() for m in self.handlers)}"
            f" to the read model of {self.name}.",
        )

        async def on_message(message: KafkaMessage) -> None:
            raw = message.raw_message
            if batched:
                assert isinstance(raw, tuple)
                if not raw:
                    return
                handled = self.handle_records(broker, raw)
            else:
                assert isinstance(raw, ConsumerRecord)
                handled = self.handle_record(broker, raw)
            try:
                await handled
            except Exception as exc:
                # Not even dead-lettering worked (Kafka away?): rewind to this record (or
                # batch) so it is delivered again, after a pause, instead of being skipped.
                log.warning("message not handled, will be redelivered", error=repr(exc))
                await asyncio.sleep(1.0)  # wait-ok: back-off before redelivery
                await message.nack()
                return
            await message.ack()

        subscriber(on_message)

    async def handle_records(
        self, broker: KafkaBroker, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> None:
        """Apply a batch of records in one transaction (see the class docstring)."""
        decoded = [(record, await self._decode(broker, record)) for record in records]
        events = [(record, event) for record, event in decoded if event is not None]
        if not events:
            return
        try:
            await self._apply_batch_with_retries([event for _, event in events])
        except _BatchRefusedError as exc:
            log.warning("a batch failed; applying its events one by one", error=repr(exc))
            for record, event in events:
                await self._apply_or_dead_letter(broker, record, event)

    async def _decode(
        self, broker: KafkaBroker, record: ConsumerRecord[Any, Any]
    ) -> InboundEvent | None:
        """The record as an event, or None when it went to the dead-letter topic."""
        headers = [(k, bytes(v)) for k, v in record.headers]
        size = len(record.value or b"")
        if size > self.max_message_bytes:
            reason = f"MessageTooLargeError: {size} bytes, at most {self.max_message_bytes}"
            await self._dead_letter(broker, record, headers, reason)
            return None
        try:
            envelope = decode(record.key, headers, record.value or b"")
            payload = self.registry.parse(envelope.type, envelope.data)
        except (EnvelopeError, LookupError, ValueError) as exc:
            await self._dead_letter(broker, record, headers, f"{type(exc).__name__}: {exc}")
            return None
        return InboundEvent(envelope, payload, record.topic, record.partition, record.offset)

    async def handle_record(self, broker: KafkaBroker, record: ConsumerRecord[Any, Any]) -> None:
        event = await self._decode(broker, record)
        if event is not None:
            await self._apply_or_dead_letter(broker, record, event)

    async def _apply_or_dead_letter(
        self, broker: KafkaBroker, record: ConsumerRecord[Any, Any], event: InboundEvent
    ) -> None:
        headers = [(k, bytes(v)) for k, v in record.headers]
        envelope = event.envelope
        with correlation(envelope.correlation_id):
            structlog.contextvars.bind_contextvars(
                event_id=str(envelope.id), event_type=envelope.type
            )
            try:
                await self._apply_with_retries(event)
            except PoisonMessageError as exc:
                await self._dead_letter(broker, record, headers, f"PoisonMessageError: {exc}")
            finally:
                structlog.contextvars.unbind_contextvars("event_id", "event_type")

    async def _apply_batch_with_retries(self, events: list[InboundEvent]) -> None:
        try:
            await self._retrying(lambda: self._apply_batch_once(events), len(events), attempts=1)
        except Exception as exc:
            raise _BatchRefusedError(repr(exc)) from exc

    async def _apply_batch_once(self, events: list[InboundEvent]) -> None:
        async with self.pool().acquire() as conn, conn.transaction():
            if self.guard is not None:
                await enter_shared(conn, self.guard)
            fresh = {
                r[0]
                for r in await conn.fetch(
                    """INSERT INTO processed_events (consumer, event_id)
                       SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING
                       RETURNING event_id""",
                    self.name,
                    [event.envelope.id for event in events],
                )
            }
            todo: list[InboundEvent] = []
            for event in events:
                if event.envelope.id in fresh:
                    fresh.discard(event.envelope.id)  # a duplicate within the batch: once
                    todo.append(event)
            handled = [event for event in todo if type(event.payload) in self.handlers]
            if self.batch_handler is not None:
                await self.batch_handler(conn, handled)
            else:
                for event in handled:
                    await self.handlers[type(event.payload)](conn, event)
            await self._record_positions(conn, [_place(e) for e in events])
        EVENTS_HANDLED.labels(self.name, "duplicate").inc(len(events) - len(todo))
        EVENTS_HANDLED.labels(self.name, "applied").inc(len(handled))
        EVENTS_HANDLED.labels(self.name, "ignored").inc(len(todo) - len(handled))

    async def _apply_with_retries(self, event: InboundEvent) -> None:
        handler = self.handlers.get(type(event.payload))
        attempts = self.handler_attempts
        try:
            await self._retrying(lambda: self._apply_once(event, handler), 1, attempts=attempts)
        except PoisonMessageError:
            raise
        except Exception as exc:
            raise PoisonMessageError(f"handler failed {attempts} times: {exc!r}") from exc

    async def _retrying(
        self, apply: Callable[[], Awaitable[None]], events: int, *, attempts: int
    ) -> None:
        """Run ``apply`` (one transaction) until it succeeds. A failure of the database or
        the network is not the events' fault: retried with back-off, forever, while the
        partition waits. Any other failure is retried until ``attempts`` have failed, then
        raised; a :class:`PoisonMessageError` is raised at once."""
        backoff = 0
        failures = 0
        while True:
            try:
                await apply()
                self.last_handled_at = time.time()
                return
            except PoisonMessageError:
                raise
            except _INFRASTRUCTURE_ERRORS as exc:
                delay = self.retry_delays[min(backoff, len(self.retry_delays) - 1)]
                backoff += 1
                log.warning("infrastructure failure, will retry", error=repr(exc), delay=delay)
                EVENTS_HANDLED.labels(self.name, "retried").inc(events)
                await asyncio.sleep(delay)  # wait-ok: back-off while the database is away
            except Exception as exc:
                failures += 1
                if failures >= attempts:
                    raise
                log.warning("handler failed, will retry", error=repr(exc), failures=failures)

    async def _apply_once(self, event: InboundEvent, handler: Handler | None) -> None:
        async with self.pool().acquire() as conn, conn.transaction():
            if self.guard is not None:
                await enter_shared(conn, self.guard)
            first_time = await conn.fetchval(
                """INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)
                   ON CONFLICT DO NOTHING RETURNING true""",
                self.name,
                event.envelope.id,
            )
            await self._record_positions(conn, [_place(event)])
            if not first_time:
                EVENTS_HANDLED.labels(self.name, "duplicate").inc()
                return
            if handler is not None:
                await handler(conn, event)
        EVENTS_HANDLED.labels(self.name, "applied" if handler else "ignored").inc()

    async def _record_positions(
        self, conn: asyncpg.Connection | asyncpg.Pool, places: Sequence[tuple[str, int, int]]
    ) -> None:
        """With ``track_positions``: per partition, the offset after the last of ``places``
        (topic, partition, offset)."""
        if not self.track_positions or not places:
            return
        after: dict[tuple[str, int], int] = {}
        for topic, partition, offset in places:
            after[(topic, partition)] = max(after.get((topic, partition), 0), offset + 1)
        await conn.execute(
            """INSERT INTO subscription_positions (consumer, topic, partition, next_offset)
               SELECT $1, t, p, o FROM unnest($2::text[], $3::int[], $4::bigint[]) AS x(t, p, o)
               ON CONFLICT (consumer, topic, partition) DO UPDATE
                 SET next_offset = greatest(subscription_positions.next_offset,
                                            excluded.next_offset)""",
            self.name,
            [topic for topic, _ in after],
            [partition for _, partition in after],
            list(after.values()),
        )

    async def _dead_letter(
        self,
        broker: KafkaBroker,
        record: ConsumerRecord[Any, Any],
        headers: list[tuple[str, bytes]],
        reason: str,
    ) -> None:
        log.warning(
            "message dead-lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason[:500],
        )
        EVENTS_HANDLED.labels(self.name, "dead_lettered").inc()
        dlt_headers = {
            k: v.decode("utf-8", "replace") for k, v in headers if not k.startswith("dlt_")
        }
        dlt_headers.update(
            {
                DLT_ERROR: reason[:4000],
                DLT_TOPIC: record.topic,
                DLT_PARTITION: str(record.partition),
                DLT_OFFSET: str(record.offset),
                DLT_CONSUMER: self.name,
            }
        )
        await broker.publish(
            record.value or b"",
            topic=dead_letter_topic(record.topic),
            key=record.key,
            headers=dlt_headers,
        )
        if self.track_positions:  # nothing to apply: the read model is as complete as before
            await self._record_positions(
                self.pool(), [(record.topic, record.partition, record.offset)]
            )
