"""How many copies the services' topics get, and how producers write to them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.events.config import Settings as EventsSettings
from services.kernel.kafka import KafkaReplicationError, KafkaSettings
from services.kernel.runtime import ServiceRuntime

brokers = st.integers(min_value=1, max_value=50)


@given(brokers)
def test_unset_the_topics_follow_the_cluster_up_to_three_copies(count: int) -> None:
    replication = KafkaSettings().replication(count)
    assert replication.factor == min(3, count)
    assert replication.min_insync <= replication.factor


@given(brokers)
def test_unset_one_broker_can_be_lost_without_refusing_or_losing_a_write(count: int) -> None:
    replication = KafkaSettings().replication(count)
    if count >= 3:
        # acks=all: a write is on two brokers before it counts, and one may go away.
        assert replication.min_insync == 2
        assert replication.factor - replication.min_insync == 1
    else:
        assert replication.min_insync == 1


@given(st.integers(min_value=1, max_value=10), brokers)
def test_a_replication_factor_the_cluster_can_hold_is_taken_as_it_is(
    factor: int, count: int
) -> None:
    settings = KafkaSettings(replication_factor=factor)
    if factor > count:
        with pytest.raises(KafkaReplicationError, match=f"needs {factor} brokers"):
            settings.replication(count)
        return
    replication = settings.replication(count)
    assert replication.factor == factor
    assert replication.min_insync == (2 if factor >= 3 else 1)


def test_too_few_brokers_is_an_error_that_says_which_setting_and_what_to_do() -> None:
    settings = KafkaSettings(bootstrap_servers="kafka:9092", replication_factor=3)
    with pytest.raises(KafkaReplicationError) as raised:
        settings.replication(1)
    message = str(raised.value)
    assert "_KAFKA__REPLICATION_FACTOR=3 needs 3 brokers" in message
    assert "kafka:9092 has 1" in message
    assert "leave it unset" in message


def test_more_in_sync_replicas_than_copies_is_refused_with_the_settings() -> None:
    with pytest.raises(ValidationError, match="Kafka would refuse every write"):
        KafkaSettings(replication_factor=2, min_insync_replicas=3)


def test_more_in_sync_replicas_than_the_cluster_gives_copies_is_refused_at_start() -> None:
    with pytest.raises(KafkaReplicationError, match="MIN_INSYNC_REPLICAS=2 is more than the 1"):
        KafkaSettings(min_insync_replicas=2).replication(1)


def test_the_settings_come_from_the_services_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENTS_KAFKA__REPLICATION_FACTOR", "3")
    monkeypatch.setenv("EVENTS_KAFKA__MIN_INSYNC_REPLICAS", "2")
    kafka = EventsSettings().kafka
    assert (kafka.replication_factor, kafka.min_insync_replicas) == (3, 2)
    replication = kafka.replication(5)
    assert replication.topic_configs() == {"min.insync.replicas": "2"}


def test_every_producer_waits_for_all_in_sync_copies_and_is_idempotent() -> None:
    assert KafkaSettings().producer_options() == {"acks": "all", "enable_idempotence": True}


def test_the_faststream_broker_that_publishes_dead_letters_does_so_too() -> None:
    runtime = ServiceRuntime("events", "postgresql://unused/x", KafkaSettings())
    # FastStream keeps the producer's arguments until it connects.
    options = runtime.broker._connection_kwargs
    assert options["acks"] == "all"
    assert options["enable_idempotence"] is True


def test_the_faststream_broker_gets_every_bootstrap_server_of_a_cluster() -> None:
    # FastStream takes a string as one address: "a:1,b:2" was looked up as a host name.
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:19192, 127.0.0.1:19193,127.0.0.1:19194")
    runtime = ServiceRuntime("events", "postgresql://unused/x", kafka)
    assert runtime.broker._connection_kwargs["bootstrap_servers"] == [
        "127.0.0.1:19192",
        "127.0.0.1:19193",
        "127.0.0.1:19194",
    ]
