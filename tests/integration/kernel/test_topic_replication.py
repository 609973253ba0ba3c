"""The services' topics get the copies the settings give for the cluster, or a clear error.

On the stack's one broker: the settings' default follows the cluster (one copy, min ISR 1);
three copies asked of it are refused before anything is created, and a service started so
runs, reports Kafka not ready with the reason, and logs no traceback. (Three copies on three
brokers: tests/e2e/cluster.)
"""

from __future__ import annotations

import pytest
import structlog
from aiokafka.admin import AIOKafkaAdminClient

from services.kernel.kafka import (
    KafkaReplicationError,
    KafkaSettings,
    KafkaTopicError,
    dead_letter_topic,
    ensure_topics,
)
from services.kernel.runtime import ServiceRuntime
from tests.support.kafka import topic_replication
from tests.support.stack import KAFKA_BOOTSTRAP


async def topics_with(prefix: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        return [t for t in await admin.list_topics() if t.startswith(prefix)]
    finally:
        await admin.close()


async def test_on_one_broker_a_topic_and_its_dead_letter_topic_get_one_copy(
    topic_prefix: str,
) -> None:
    settings = KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP, topic_prefix=topic_prefix)
    await ensure_topics(settings, {"kl.test.things": 2})
    topic = settings.topic("kl.test.things")
    main, dead = await topic_replication(topic), await topic_replication(dead_letter_topic(topic))
    assert (main.partitions, main.copies, main.min_insync_replicas) == (2, {1}, "1")
    assert (dead.partitions, dead.copies, dead.min_insync_replicas) == (1, {1}, "1")


async def test_three_copies_on_one_broker_are_refused_before_any_topic_is_made(
    topic_prefix: str,
) -> None:
    settings = KafkaSettings(
        bootstrap_servers=KAFKA_BOOTSTRAP, topic_prefix=topic_prefix, replication_factor=3
    )
    with pytest.raises(KafkaReplicationError, match="needs 3 brokers, but the cluster"):
        await ensure_topics(settings, {"kl.test.things": 2})
    assert await topics_with(topic_prefix) == []


async def test_a_topic_kafka_refuses_is_an_error_that_names_it(topic_prefix: str) -> None:
    settings = KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP, topic_prefix=topic_prefix)
    with pytest.raises(KafkaTopicError, match=r"refused to create topic .*bad name!"):
        await ensure_topics(settings, {"bad name!": 1})


async def test_a_service_asking_too_many_copies_runs_and_says_why_it_is_not_ready(
    fresh_dsn: str, topic_prefix: str
) -> None:
    kafka = KafkaSettings(
        bootstrap_servers=KAFKA_BOOTSTRAP, topic_prefix=topic_prefix, replication_factor=3
    )
    runtime = ServiceRuntime(
        name="kernel-test", dsn=fresh_dsn, kafka=kafka, topics={"kl.test.things": 1}
    )
    with structlog.testing.capture_logs() as logs:
        await runtime.start()  # no exception: the HTTP API works without Kafka
    try:
        with pytest.raises(KafkaReplicationError, match="REPLICATION_FACTOR=3 needs 3 brokers"):
            await runtime.check_kafka()
        said = [e for e in logs if e.get("reason") == "KafkaReplicationError"]
        assert said, logs
        assert "needs 3 brokers" in said[0]["error"]
        assert said[0]["log_level"] == "error"
        assert not any("exc_info" in e or "exception" in e for e in logs)
    finally:
        await runtime.stop()
