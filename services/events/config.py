"""Settings of the events service, read from ``EVENTS_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class Settings(ServiceSettings):
    """``EVENTS_DATABASE_URL``, ``EVENTS_KAFKA__BOOTSTRAP_SERVERS``, ``EVENTS_CLOCK_AS_OF``..."""

    model_config = SettingsConfigDict(env_prefix="EVENTS_")

    database_url: str = "postgresql://postgres@127.0.0.1:55432/events"
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
    port: int = Field(default=8002, description="Port to listen on.")
    snapshot_every: int = Field(default=200, ge=1, description="Snapshot every N events.")
    max_batch: int = Field(default=500, ge=1, description="Most commands decided in one batch.")
    pool_size: int = 20
    workers: bool = Field(
        default=True,
        description="Run the outbox relay and the Kafka subscribers in this process. An "
        "operator may run API-only instances (false) beside worker instances (true).",
    )
    sse_interval_s: float = Field(
        default=0.5,
        ge=0.05,
        le=60,
        description="How often a meeting's availability is read for its live streams: one "
        "read per meeting and interval, shared by all its listeners.",
    )
    sse_max_streams: int = Field(
        default=2000, ge=1, description="Live streams (SSE) one process serves at most."
    )
    sse_max_streams_per_client: int = Field(
        default=500,
        ge=1,
        description="Live streams one client address may hold open (the web app is one "
        "address for all its browsers: keep this at least its WEB_MAX_STREAMS).",
    )
    join_url_template: str = Field(
        default="/api/membership/networks/{slug}/memberships",
        description="Where a municipality joins a network, told in a not-a-member refusal "
        "to anyone: a public address (the web app's path by default, or a full public URL), "
        "never the membership service's internal one. ``{slug}``: the network.",
    )

    @field_validator("join_url_template")
    @classmethod
    def _only_the_slug(cls, template: str) -> str:
        try:
            template.format(slug="knub")
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                "join_url_template may name only {slug} (a public address, e.g. "
                "/api/membership/networks/{slug}/memberships)"
            ) from None
        return template
