"""The topics created by compose and by Strimzi are the topics the contracts publish on."""

from __future__ import annotations

import pytest

from contracts.catalog import all_models
from services.kernel.kafka import Replication, dead_letter_topic
from tests.unit.deploy.manifests import (
    SERVICES,
    compose_env,
    compose_kafka_brokers,
    compose_replication,
    compose_service_for,
    compose_services,
    compose_topics,
    container_env,
    deployment_for,
    of_kind,
    settings_from_env,
)

K8S_BROKERS = 3
"""The Strimzi cluster "kl-kafka" that deploy/k8s assumes has (at least) three brokers."""


def contract_topics() -> set[str]:
    topics = {model.topic for model in all_models().values()}
    return topics | {dead_letter_topic(topic) for topic in topics}


def k8s_topics() -> dict[str, int]:
    topics: dict[str, int] = {}
    for doc in of_kind("KafkaTopic"):
        name = doc["spec"].get("topicName", doc["metadata"]["name"])
        assert name not in topics, f"{name} is declared twice"
        topics[name] = doc["spec"]["partitions"]
    return topics


def test_compose_creates_exactly_the_contract_topics_and_their_dead_letter_topics() -> None:
    assert set(compose_topics()) == contract_topics()


def test_kubernetes_declares_exactly_the_contract_topics_and_their_dead_letter_topics() -> None:
    assert set(k8s_topics()) == contract_topics()


def test_partition_counts_are_the_same_in_compose_and_kubernetes() -> None:
    assert k8s_topics() == compose_topics()


def test_dead_letter_topics_have_one_partition() -> None:
    dead_letter = {t: n for t, n in compose_topics().items() if t.endswith(".dlt")}
    assert dead_letter
    assert set(dead_letter.values()) == {1}


def test_kafka_topics_are_strimzi_resources_with_three_replicas() -> None:
    topics = of_kind("KafkaTopic")
    assert {t["apiVersion"] for t in topics} == {"kafka.strimzi.io/v1beta2"}
    assert {t["spec"]["replicas"] for t in topics} == {3}
    assert all(t["metadata"]["labels"].get("strimzi.io/cluster") for t in topics)


def k8s_replication() -> set[Replication]:
    return {
        Replication(t["spec"]["replicas"], int(t["spec"]["config"]["min.insync.replicas"]))
        for t in of_kind("KafkaTopic")
    }


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_in_kubernetes_would_create_topics_as_strimzi_declares_them(
    service: str,
) -> None:
    _, container = deployment_for(service)
    kafka = settings_from_env(service, container_env(container)).kafka
    assert k8s_replication() == {kafka.replication(K8S_BROKERS)}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_in_kubernetes_asks_for_its_copies_rather_than_counting_brokers(
    service: str,
) -> None:
    # A broker away while a service starts must not make it create topics with fewer copies.
    _, container = deployment_for(service)
    kafka = settings_from_env(service, container_env(container)).kafka
    assert kafka.replication_factor is not None
    assert kafka.min_insync_replicas is not None
    assert kafka.replication(K8S_BROKERS + 2) == kafka.replication(K8S_BROKERS)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_in_compose_would_create_topics_as_kafka_init_does(service: str) -> None:
    _, spec = compose_service_for(service)
    kafka = settings_from_env(service, compose_env(spec)).kafka
    factor, in_sync = compose_replication()
    assert kafka.replication(compose_kafka_brokers()) == Replication(factor, in_sync)


def test_compose_kafka_makes_other_topics_as_kafka_init_does() -> None:
    env = compose_services()["kafka"]["environment"]
    assert (
        int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]),
        int(env["KAFKA_MIN_INSYNC_REPLICAS"]),
    ) == compose_replication()


def test_compose_kafka_does_not_create_topics_on_its_own() -> None:
    env = compose_services()["kafka"]["environment"]
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false"


def test_services_start_after_the_topics_exist() -> None:
    for service in SERVICES:
        name, spec = compose_service_for(service)
        condition = spec["depends_on"]["kafka-init"]["condition"]
        assert condition == "service_completed_successfully", name
