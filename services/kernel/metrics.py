"""Prometheus metrics every service exposes beside HTTP latency: events appended, outbox
relay lag and consumer lag. The gauges are computed in the background on an interval
(``ServiceRuntime.metrics_interval_s``); a scrape of ``/metrics`` only reads them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

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
    settings: KafkaSettings,
    groups: Iterable[str] | None = None,
    *,
    admin_client: Callable[..., Any] = AIOKafkaAdminClient,
    consumer_client: Callable[..., Any] = AIOKafkaConsumer,
) -> list[GroupLag]:
    """Lag per consumer group and topic (end offset minus committed offset).

    ``groups``: these groups only; None: every group the cluster knows. Both clients are
    closed on every path, a failed start of either included (``admin_client`` and
    ``consumer_client`` make them: aiokafka's, or a test's).
    """
    admin = admin_client(**settings.client_options())
    consumer = consumer_client(**settings.client_options(), enable_auto_commit=False)
    try:
        await admin.start()
        await consumer.start()
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
        with contextlib.suppress(Exception):
            await consumer.stop()
        with contextlib.suppress(Exception):
            await admin.close()
