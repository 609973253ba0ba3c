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
from collections.abc import Awaitable, Callable, Sequence
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


@dataclass
class Subscription:
    """One consumer group that applies events of some topics to one read model.

    ``handlers`` maps payload models to handlers; events of other registered types are
    recorded as processed and otherwise ignored (a reader tolerates what it does not need).
    ``retry_delays`` is the back-off for infrastructure failures, repeated forever.
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
    last_handled_at: float = field(default=0.0, init=False)

    def attach(self, broker: KafkaBroker) -> None:
        """Register this subscription on a FastStream broker."""
        topics = [self.kafka.topic(t) for t in self.topics]

        @broker.subscriber(
            *topics,
            group_id=self.name,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            title=f"{self.name}:subscriber",
            description=f"Applies {', '.join(m.type_name() for m in self.handlers)}"
            f" to the read model of {self.name}.",
        )
        async def on_message(message: KafkaMessage) -> None:
            record = message.raw_message
            assert isinstance(record, ConsumerRecord)
            try:
                await self.handle_record(broker, record)
            except Exception as exc:
                # Not even dead-lettering worked (Kafka away?): rewind to this record so it
                # is delivered again, after a pause, instead of being skipped.
                log.warning("message not handled, will be redelivered", error=repr(exc))
                await asyncio.sleep(1.0)  # wait-ok: back-off before redelivery
                await message.nack()
                return
            await message.ack()

    async def handle_record(self, broker: KafkaBroker, record: ConsumerRecord[Any, Any]) -> None:
        headers = [(k, bytes(v)) for k, v in record.headers]
        size = len(record.value or b"")
        if size > self.max_message_bytes:
            reason = f"MessageTooLargeError: {size} bytes, at most {self.max_message_bytes}"
            await self._dead_letter(broker, record, headers, reason)
            return
        try:
            envelope = decode(record.key, headers, record.value or b"")
            payload = self.registry.parse(envelope.type, envelope.data)
        except (EnvelopeError, LookupError, ValueError) as exc:
            await self._dead_letter(broker, record, headers, f"{type(exc).__name__}: {exc}")
            return
        event = InboundEvent(envelope, payload, record.topic, record.partition, record.offset)
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

    async def _apply_with_retries(self, event: InboundEvent) -> None:
        handler = self.handlers.get(type(event.payload))
        failures = 0
        attempt = 0
        while True:
            try:
                await self._apply_once(event, handler)
                self.last_handled_at = time.time()
                return
            except PoisonMessageError:
                raise
            except (
                OSError,
                asyncpg.InterfaceError,
                asyncpg.PostgresConnectionError,
                asyncpg.CannotConnectNowError,
                asyncpg.TooManyConnectionsError,
                asyncpg.SerializationError,
                asyncpg.DeadlockDetectedError,
                TimeoutError,
            ) as exc:
                delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
                attempt += 1
                log.warning("infrastructure failure, will retry", error=repr(exc), delay=delay)
                EVENTS_HANDLED.labels(self.name, "retried").inc()
                await asyncio.sleep(delay)  # wait-ok: back-off while the database is away
            except Exception as exc:
                failures += 1
                if failures >= self.handler_attempts:
                    raise PoisonMessageError(f"handler failed {failures} times: {exc!r}") from exc
                log.warning("handler failed, will retry", error=repr(exc), failures=failures)

    async def _apply_once(self, event: InboundEvent, handler: Handler | None) -> None:
        async with self.pool().acquire() as conn, conn.transaction():
            first_time = await conn.fetchval(
                """INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)
                   ON CONFLICT DO NOTHING RETURNING true""",
                self.name,
                event.envelope.id,
            )
            if not first_time:
                EVENTS_HANDLED.labels(self.name, "duplicate").inc()
                return
            if handler is not None:
                await handler(conn, event)
        EVENTS_HANDLED.labels(self.name, "applied" if handler else "ignored").inc()

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
