"""Kafka client settings shared by the relay, the subscribers and the tools.

Security is configurable for every client: PLAINTEXT on the local stack, SASL (SCRAM) and
TLS where a real cluster asks for them.
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)
from pydantic import BaseModel, Field


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


async def ensure_topics(
    settings: KafkaSettings, topics: dict[str, int], *, timeout: float = 30.0
) -> None:
    """Create the topics that do not exist yet, with their partition counts.

    ``topics`` maps unprefixed names to partition counts; each gets its dead-letter topic.
    """
    admin = AIOKafkaAdminClient(**settings.client_options(), request_timeout_ms=int(timeout * 1000))
    await admin.start()
    try:
        wanted: dict[str, int] = {}
        for name, partitions in topics.items():
            wanted[settings.topic(name)] = partitions
            wanted[dead_letter_topic(settings.topic(name))] = 1
        existing = set(await admin.list_topics())
        new = [NewTopic(n, p, 1) for n, p in wanted.items() if n not in existing]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another instance made them a moment ago
    finally:
        await admin.close()


def dead_letter_topic(topic: str) -> str:
    """Where a subscriber of ``topic`` parks the messages it cannot handle."""
    return f"{topic}.dlt"
