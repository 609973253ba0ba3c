"""Settings of the notifications service, from ``NOTIFICATIONS_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class Settings(ServiceSettings):
    """Local defaults work with ``deploy/local/stack.sh up``.

    Nested Kafka settings: ``NOTIFICATIONS_KAFKA__BOOTSTRAP_SERVERS``,
    ``NOTIFICATIONS_KAFKA__TOPIC_PREFIX``, ...; durations in ISO 8601 (``P2D``, ``PT30S``).
    """

    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_")

    database_url: str = "postgresql://postgres@127.0.0.1:55432/notifications"
    consumer_group: str = Field(
        default="notifications", description="Kafka consumer group of the subscription."
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool | None = Field(
        default=None, description="None: use STARTTLS when the server offers it."
    )
    smtp_timeout_seconds: float = 15.0
    sender: str = Field(
        default="KL Netværk <noreply@netvaerk.kl.dk>", description="The From: of every mail."
    )
    organiser_email: str = Field(
        default="netvaerk@kl.dk", description="KL's organiser of the network, told of changes."
    )
    organiser_name: str = "KL's netværkssekretariat"
    calendar_domain: str = Field(
        default="netvaerk.kl.dk", description="Domain of calendar UIDs and Message-IDs."
    )
    reminder_before: timedelta = Field(
        default=timedelta(days=2), description="How long before a meeting its reminder goes."
    )
    retry_base: timedelta = timedelta(seconds=30)
    retry_cap: timedelta = timedelta(hours=1)
    max_attempts: int = Field(default=10, ge=1)
    poll_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the worker looks for due mail and reminders when nothing "
        "wakes it (queued mail wakes it at once, through a NOTIFY).",
    )
    consumer_batch_size: int = Field(
        default=200, ge=1, description="Source events applied per transaction, at most."
    )
    delivery_batch_size: int = Field(
        default=50, ge=1, description="Deliveries a sender claims and sends per transaction."
    )
    delivery_senders: int = Field(
        default=2,
        ge=1,
        le=32,
        description="Batches sent at once, each on its own SMTP connection (kept open).",
    )
    web_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where the web pages are, for links in mails (a municipality's join page).",
    )
    port: int = 8003
