"""The membership service's settings: environment variables ``MEMBERSHIP_*``, local defaults."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class Settings(ServiceSettings):
    """Read once, at start-up. Nested Kafka settings: ``MEMBERSHIP_KAFKA__BOOTSTRAP_SERVERS``."""

    model_config = SettingsConfigDict(env_prefix="MEMBERSHIP_", populate_by_name=True)

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:55432/membership",
        description="PostgreSQL database of this service (created if missing).",
    )
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
