"""Kafka client settings shared by the relay, the subscribers and the tools.

Security is configurable for every client: PLAINTEXT on the local stack, SASL (SCRAM) and
TLS where a real cluster asks for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    UnsupportedSaslMechanismError,
    for_code,
)
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)
from pydantic import BaseModel, Field, model_validator

log = structlog.get_logger(__name__)


class KafkaSettings(BaseModel):
    """How to reach Kafka. Services embed this in their settings (``KAFKA__...``)."""

    bootstrap_servers: str = Field(
        default="127.0.0.1:19092", description="Comma-separated host:port list."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    topic_prefix: str = Field(default="", description="Prefix for every topic (tests, tenants).")
    static_membership: bool = Field(
        default=True,
        description="Join consumer groups as a static member (KIP-345): a restarted instance "
        "takes its partitions back at once instead of waiting for a rebalance.",
    )
    group_instance_id: str | None = Field(
        default=None,
        max_length=200,
        description="This instance's name in its consumer groups; must differ between the "
        "instances of a service that run at the same time, and stay the same when one "
        "restarts. Default: '<host name>-<HTTP port>'.",
    )
    session_timeout_ms: int = Field(
        default=6000,
        ge=1000,
        description="How long a consumer group waits for a silent member (a crashed "
        "instance, or a static one stopped for good) before it gives its partitions to "
        "the others. Kafka accepts 6000 and more by default (group.min.session.timeout.ms).",
    )
    heartbeat_interval_ms: int = Field(
        default=2000, ge=100, description="Heartbeats to the group: a third of the session."
    )
    replication_factor: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="Copies of each topic the service creates, and of its dead-letter topic. "
        "None: follow the cluster, min(3, the brokers it has when the topics are created). "
        "Topics that exist already keep theirs.",
    )
    min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="min.insync.replicas of the topics the service creates: how many copies "
        "must have a write before Kafka acknowledges it (the producers ask for all). None: 2 "
        "when the replication factor is 3 or more, else 1, so one broker can be lost "
        "without losing a write or refusing one.",
    )

    @model_validator(mode="after")
    def _in_sync_replicas_fit_the_copies(self) -> KafkaSettings:
        factor, in_sync = self.replication_factor, self.min_insync_replicas
        if factor is not None and in_sync is not None and in_sync > factor:
            raise ValueError(
                f"<SERVICE>_KAFKA__MIN_INSYNC_REPLICAS={in_sync} is more than "
                f"<SERVICE>_KAFKA__REPLICATION_FACTOR={factor}: Kafka would refuse every "
                "write. Lower it, or leave it unset (2 with three copies or more, else 1)."
            )
        return self

    def replication(self, brokers: int) -> Replication:
        """The replication of the topics created on a cluster of ``brokers`` brokers."""
        factor = self.replication_factor or min(3, brokers)
        if factor > brokers:
            raise KafkaReplicationError(
                f"<SERVICE>_KAFKA__REPLICATION_FACTOR={factor} needs {factor} brokers, but "
                f"the cluster at {self.bootstrap_servers} has {brokers}: lower it, or leave it "
                "unset to follow the cluster."
            )
        in_sync = self.min_insync_replicas or (2 if factor >= 3 else 1)
        if in_sync > factor:
            raise KafkaReplicationError(
                f"<SERVICE>_KAFKA__MIN_INSYNC_REPLICAS={in_sync} is more than the {factor} "
                f"copies the topics get on the cluster at {self.bootstrap_servers} ({brokers} "
                "brokers): Kafka would refuse every write. Lower it, or leave it unset."
            )
        return Replication(factor, in_sync)

    def servers(self) -> list[str]:
        """The bootstrap servers one by one (FastStream takes a string as ONE address)."""
        return [server.strip() for server in self.bootstrap_servers.split(",") if server.strip()]

    def producer_options(self) -> dict[str, Any]:
        """What every producer sets (the outbox relay, the dead letters, a replay): a write
        counts once all in-sync copies have it, and a retried send is written once."""
        return {"acks": "all", "enable_idempotence": True}

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka producers, consumers and admin clients."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.sasl_mechanism or "SCRAM-SHA-512"
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        if self.security_protocol.endswith("SSL"):
            options["ssl_context"] = ssl.create_default_context(cafile=self.ssl_cafile)
        return options

    def faststream_security(self) -> BaseSecurity | None:
        """The same security for FastStream brokers (the subscribers)."""
        use_ssl = self.security_protocol.endswith("SSL")
        context = ssl.create_default_context(cafile=self.ssl_cafile) if use_ssl else None
        if not self.security_protocol.startswith("SASL"):
            return BaseSecurity(ssl_context=context) if use_ssl else None
        user, password = self.sasl_username or "", self.sasl_password or ""
        mechanism = self.sasl_mechanism or "SCRAM-SHA-512"
        kinds: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        return kinds[mechanism](user, password, ssl_context=context, use_ssl=use_ssl)

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def instance_id(self, port: int | None) -> str | None:
        """The group instance id of the process serving on ``port`` (None: dynamic member).

        The host name and the port tell apart the instances of one service, on one machine
        or many (a pod's host name is its own), and a restart on the same port is the same
        instance again.
        """
        if not self.static_membership:
            return None
        if self.group_instance_id:
            return self.group_instance_id
        if port is None:
            return None
        return f"{socket.gethostname()}-{port}"


def kafka_settings_from_env(
    environ: Mapping[str, str], prefix: str = "KAFKA_", **overrides: Any
) -> KafkaSettings:
    """KafkaSettings from ``KAFKA_BOOTSTRAP_SERVERS``, ``KAFKA_SECURITY_PROTOCOL``,
    ``KAFKA_SASL_*``, ``KAFKA_SSL_CAFILE`` (the names ``deploy/local/stack.sh env`` prints),
    for the operator's tools; ``overrides`` win."""
    values: dict[str, Any] = {}
    for name in KafkaSettings.model_fields:
        value = environ.get(f"{prefix}{name.upper()}")
        if value:
            values[name] = value
    return KafkaSettings.model_validate({**values, **overrides})


@dataclass(frozen=True)
class Replication:
    """How many copies a topic has, and how many must have a write before it counts."""

    factor: int
    min_insync: int

    def topic_configs(self) -> dict[str, str]:
        return {"min.insync.replicas": str(self.min_insync)}


class KafkaReplicationError(ConnectionError):
    """The cluster cannot hold the topics as the settings ask (too few brokers)."""


class KafkaTopicError(ConnectionError):
    """Kafka refused to create a topic (the reason is in the message)."""


class KafkaAuthenticationError(ConnectionError):
    """Kafka refused this client's SASL credentials (wrong user, password or mechanism)."""


class KafkaTlsError(ConnectionError):
    """The TLS handshake with Kafka failed (untrusted certificate, wrong name, not TLS)."""


class KafkaUnreachableError(ConnectionError):
    """No bootstrap server answered."""


async def diagnose(settings: KafkaSettings, *, timeout: float = 5.0) -> ConnectionError | None:
    """Connect to each bootstrap server as the clients would: why that fails, or None.

    aiokafka's clients only say "Unable to bootstrap"; this names the cause (credentials,
    TLS, network) in a message that holds no secret.
    """
    options = settings.client_options()
    del options["bootstrap_servers"]
    mechanism = options.get("sasl_mechanism")
    failure: ConnectionError = KafkaUnreachableError("no Kafka bootstrap server configured")
    for server in settings.servers():
        host, _, port = server.rpartition(":")
        try:
            async with asyncio.timeout(timeout):
                conn = await create_conn(
                    host, int(port), request_timeout_ms=int(timeout * 1000), **options
                )
        except (
            SaslAuthenticationFailed,
            AuthenticationFailedError,
            UnsupportedSaslMechanismError,
            IllegalSaslStateError,
        ) as exc:
            return KafkaAuthenticationError(
                f"Kafka at {server} refused the SASL credentials ({mechanism}): {exc}"
            )
        except ssl.SSLError as exc:
            return KafkaTlsError(f"TLS with Kafka at {server} failed: {exc}")
        except (OSError, KafkaError, TimeoutError, ValueError) as exc:
            failure = KafkaUnreachableError(
                f"Kafka at {server} did not answer ({settings.security_protocol}): "
                f"{type(exc).__name__}: {exc}"
            )
        else:
            with contextlib.suppress(Exception):
                conn.close()
            return None
    return failure


async def ensure_topics(
    settings: KafkaSettings, topics: dict[str, int], *, timeout: float = 30.0
) -> None:
    """Create the topics that do not exist yet, with their partition counts.

    ``topics`` maps unprefixed names to partition counts; each gets its dead-letter topic (one
    partition). Both get the replication the settings give for the cluster as it is now
    (:meth:`KafkaSettings.replication`); one it cannot hold raises
    :class:`KafkaReplicationError`, a refusal by Kafka :class:`KafkaTopicError`. An existing
    topic with fewer copies than that is left as it is, with a warning.
    """
    admin = AIOKafkaAdminClient(**settings.client_options(), request_timeout_ms=int(timeout * 1000))
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        with contextlib.suppress(Exception):
            await admin.close()
        reason = await diagnose(settings)
        if reason is None:
            raise
        raise reason from exc
    try:
        wanted: dict[str, int] = {}
        for name, partitions in topics.items():
            wanted[settings.topic(name)] = partitions
            wanted[dead_letter_topic(settings.topic(name))] = 1
        cluster = await admin.describe_cluster()
        replication = settings.replication(len(cluster["brokers"]))
        existing = set(await admin.list_topics())
        new = [
            NewTopic(n, p, replication.factor, topic_configs=replication.topic_configs())
            for n, p in wanted.items()
            if n not in existing
        ]
        if new:
            response = await admin.create_topics(new)
            for topic, code, *rest in response.topic_errors:
                if code in (0, TopicAlreadyExistsError.errno):
                    continue  # made now, or by another instance a moment ago
                message = rest[0] if rest and rest[0] else ""
                raise KafkaTopicError(
                    f"Kafka refused to create topic {topic} with {replication.factor} "
                    f"copies: {for_code(code).__name__} {message}".strip()
                )
        await _warn_of_fewer_copies(admin, sorted(set(wanted) & existing), replication)
    finally:
        await admin.close()


async def _warn_of_fewer_copies(
    admin: AIOKafkaAdminClient, topics: list[str], replication: Replication
) -> None:
    """Log the existing topics that have fewer copies than the settings ask for."""
    if not topics:
        return
    for topic in await admin.describe_topics(topics):
        copies = min((len(p["replicas"]) for p in topic["partitions"]), default=0)
        if 0 < copies < replication.factor:
            log.warning(
                "topic has fewer copies than the settings ask for",
                topic=topic["topic"],
                copies=copies,
                wanted=replication.factor,
            )


def dead_letter_topic(topic: str) -> str:
    """Where a subscriber of ``topic`` parks the messages it cannot handle."""
    return f"{topic}.dlt"
