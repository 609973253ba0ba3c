"""Prometheus metrics every service exposes beside HTTP latency: events appended, outbox
relay lag and consumer lag. The gauges are refreshed when ``/metrics`` is scraped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Counter, Gauge

from services.kernel.kafka import KafkaSettings

EVENTS_APPENDED = Counter("events_appended_total", "Events appended to the event store", ["type"])
OUTBOX_UNPUBLISHED = Gauge("outbox_unpublished", "Outbox rows not yet acknowledged by Kafka")
RELAY_LAG = Gauge("outbox_relay_lag_seconds", "Age of the oldest unpublished outbox row")
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag",
    "Records between a group's committed offset and the end",
    ["group", "topic"],
)


@dataclass(frozen=True)
class GroupLag:
    group: str
    topic: str
    lag: int


async def consumer_lag(
    settings: KafkaSettings, groups: Iterable[str] | None = None
) -> list[GroupLag]:
    """Lag per consumer group and topic (end offset minus committed offset).

    ``groups``: these groups only; None: every group the cluster knows.
    """
    admin = AIOKafkaAdminClient(**settings.client_options())
    await admin.start()
    consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        names = (
            list(groups)
            if groups is not None
            else [group for group, _protocol in await admin.list_consumer_groups()]
        )
        lags: list[GroupLag] = []
        for group in names:
            offsets = await admin.list_consumer_group_offsets(group)
            if not offsets:
                continue
            ends = await consumer.end_offsets(list(offsets))
            per_topic: dict[str, int] = {}
            for tp, meta in offsets.items():
                per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(ends[tp] - meta.offset, 0)
            lags.extend(GroupLag(group, topic, lag) for topic, lag in sorted(per_topic.items()))
        return lags
    finally:
        await consumer.stop()
        await admin.close()
