"""Settings of the events service, read from ``EVENTS_*`` environment variables."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kernel.auth import AuthSettings
from services.kernel.kafka import KafkaSettings
from services.kernel.privacy import PrivacySettings


class Settings(BaseSettings):
    """``EVENTS_DATABASE_URL``, ``EVENTS_KAFKA__BOOTSTRAP_SERVERS``, ``EVENTS_CLOCK_AS_OF``..."""

    model_config = SettingsConfigDict(
        env_prefix="EVENTS_",
        env_nested_delimiter="__",
        # Settings hold secrets (keys, passwords): an error names the field, not the value.
        hide_input_in_errors=True,
    )

    database_url: str = "postgresql://postgres@127.0.0.1:55432/events"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    clock_as_of: datetime | None = Field(
        default=None, description="Run the clock as of this moment (the demo: 2021-11-19)."
    )
    membership_url: str = Field(
        default="http://127.0.0.1:8001", description="Base URL of the membership service."
    )
    membership_timeout_s: float = 2.0
    membership_view_wait_s: float = Field(
        default=2.0,
        ge=0,
        description="How long a registration from a municipality the view does not show as "
        "a member waits for the view to be shown complete (caught up with the membership "
        "topic) before the membership service is asked instead.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8002, description="Port to listen on.")
    snapshot_every: int = Field(default=200, ge=1, description="Snapshot every N events.")
    max_batch: int = Field(default=500, ge=1, description="Most commands decided in one batch.")
    pool_size: int = 20
    workers: bool = Field(
        default=True,
        description="Run the outbox relay and the Kafka subscribers in this process. An "
        "operator may run API-only instances (false) beside worker instances (true).",
    )
    join_url_template: str = Field(
        default="{membership_url}/networks/{slug}/memberships",
        description="Where a municipality joins a network (told in a not-a-member refusal).",
    )
