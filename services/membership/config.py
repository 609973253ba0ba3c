"""The membership service's settings: environment variables ``MEMBERSHIP_*``, local defaults."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kernel.auth import AuthSettings
from services.kernel.kafka import KafkaSettings
from services.kernel.privacy import PrivacySettings


class Settings(BaseSettings):
    """Read once, at start-up. Nested Kafka settings: ``MEMBERSHIP_KAFKA__BOOTSTRAP_SERVERS``."""

    model_config = SettingsConfigDict(
        env_prefix="MEMBERSHIP_",
        env_nested_delimiter="__",
        # Settings hold secrets (keys, passwords): an error names the field, not the value.
        hide_input_in_errors=True,
        populate_by_name=True,
    )

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:55432/membership",
        description="PostgreSQL database of this service (created if missing).",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    clock_as_of: datetime | None = Field(
        default=None,
        description="Run as of this moment (demo); None: the system clock.",
        examples=["2021-11-19T10:00:00+01:00"],
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8001, description="Port to listen on.")
    log_level: str = "INFO"
    pool_size: int = 20
    publish_wait_s: float = Field(
        default=2.0,
        ge=0,
        description="A command answers once its events are on Kafka, waiting at most this "
        "long (0: answer at once). Then a municipality that has been told it joined can "
        "register the next moment: the events service, caught up with the topic, knows it.",
    )
