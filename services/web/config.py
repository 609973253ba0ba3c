"""Settings of the web front end, read from ``WEB_*`` environment variables."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kernel.auth import DEV_ISSUER


class Settings(BaseSettings):
    """``WEB_HOST``, ``WEB_PORT``, ``WEB_MEMBERSHIP_URL``, ``WEB_EVENTS_URL``, ..."""

    model_config = SettingsConfigDict(
        env_prefix="WEB_",
        env_nested_delimiter="__",
        # Settings hold secrets (keys, passwords): an error names the field, not the value.
        hide_input_in_errors=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, description="Port to listen on.")
    membership_url: str = Field(
        default="http://127.0.0.1:8001", description="Base URL of the membership service."
    )
    events_url: str = Field(
        default="http://127.0.0.1:8002", description="Base URL of the events service."
    )
    notifications_url: str = Field(
        default="http://127.0.0.1:8003", description="Base URL of the notifications service."
    )
    connect_timeout_s: float = Field(default=2.0, gt=0, description="Connect to a service.")
    read_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Wait for a service's next bytes (longer than the SSE ping of 15 s).",
    )
    max_streams: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Live streams (SSE) one process passes through at most (503 beyond); "
        "they have a connection pool of their own of this size.",
    )
    max_streams_per_client: int = Field(
        default=10,
        ge=1,
        description="Live streams one client address may hold open (429 beyond). Behind a "
        "load balancer, let uvicorn take the address from X-Forwarded-For "
        "(FORWARDED_ALLOW_IPS), or every browser is the balancer's address.",
    )
    issuer_url: str | None = Field(
        default=DEV_ISSUER,
        description="The development token issuer behind the pages' development sign-in, "
        "served only while the web app listens on loopback (WEB_HOST); empty: no "
        "development sign-in (production signs in elsewhere).",
    )
    clock_as_of: datetime | None = Field(
        default=None,
        description="Run the pages' notion of today as of this moment (the demo: 2021-11-19).",
    )
