"""Kafka security options reach every client: aiokafka (relay, tools) and FastStream."""

from __future__ import annotations

import socket

from faststream.security import BaseSecurity, SASLScram512

from services.kernel.kafka import KafkaSettings, kafka_settings_from_env


def test_plaintext_needs_no_security() -> None:
    settings = KafkaSettings()
    assert settings.client_options()["security_protocol"] == "PLAINTEXT"
    assert settings.faststream_security() is None


def test_scram_over_tls_is_configured_for_both_client_kinds() -> None:
    settings = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="events",
        sasl_password="s3cret",
    )
    options = settings.client_options()
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "events"
    assert options["ssl_context"] is not None
    security = settings.faststream_security()
    assert isinstance(security, SASLScram512)
    assert security.use_ssl is True


def test_tls_without_sasl_uses_an_ssl_context() -> None:
    security = KafkaSettings(security_protocol="SSL").faststream_security()
    assert type(security) is BaseSecurity
    assert security.use_ssl is True


def test_the_topic_prefix_is_applied_to_every_topic_name() -> None:
    assert (
        KafkaSettings(topic_prefix="test.").topic("kl.events.meetings") == "test.kl.events.meetings"
    )


def test_the_operators_tools_read_the_stacks_env_names() -> None:
    environ = {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19094",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "KAFKA_SASL_USERNAME": "kl-services",
        "KAFKA_SASL_PASSWORD": "s3cret",
        "KAFKA_SSL_CAFILE": "/etc/kl/ca.pem",
        "KAFKA_PORT": "19092",  # a stack.sh setting, not a client one
    }
    settings = kafka_settings_from_env(environ, bootstrap_servers="broker:9093")
    assert settings == KafkaSettings(
        bootstrap_servers="broker:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="kl-services",
        sasl_password="s3cret",
        ssl_cafile="/etc/kl/ca.pem",
    )
    assert kafka_settings_from_env({}) == KafkaSettings()


def test_an_instance_is_named_by_its_host_and_port_in_its_consumer_groups() -> None:
    settings = KafkaSettings()
    assert settings.instance_id(8002) == f"{socket.gethostname()}-8002"
    assert settings.instance_id(8002) != settings.instance_id(8012), "two instances, two ids"


def test_an_operator_may_name_the_instance_or_turn_static_membership_off() -> None:
    assert KafkaSettings(group_instance_id="events-a").instance_id(8002) == "events-a"
    assert KafkaSettings(static_membership=False).instance_id(8002) is None
    assert KafkaSettings().instance_id(None) is None, "no port, no stable name: dynamic"
