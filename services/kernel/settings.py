"""What every service's settings hold: Kafka, tokens, the key vault, housekeeping, metrics.

Each service's ``config.py`` subclasses :class:`ServiceSettings` with its prefix
(``EVENTS_``...) and its own fields; nested settings are read with ``__``
(``EVENTS_KAFKA__BOOTSTRAP_SERVERS``, ``EVENTS_HOUSEKEEPING__IDEMPOTENCY_HOURS``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kernel.auth import AuthSettings, is_development_issuer
from services.kernel.housekeeping import HousekeepingSettings
from services.kernel.kafka import KafkaSettings
from services.kernel.privacy import PrivacySettings


class ServiceSettings(BaseSettings):
    """The settings the three services share; read once, at start-up."""

    model_config = SettingsConfigDict(
        env_nested_delimiter="__",
        # Settings hold secrets (keys, passwords): an error names the field, not the value.
        hide_input_in_errors=True,
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    housekeeping: HousekeepingSettings = Field(default_factory=HousekeepingSettings)
    metrics_interval_s: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="How often the gauges of /metrics (relay and consumer lag) are computed.",
    )
    clock_as_of: datetime | None = Field(
        default=None,
        description="Run the clock as of this moment (the demo: 2021-11-19); None: now.",
        examples=["2021-11-19T10:00:00+01:00"],
    )
    host: str = "127.0.0.1"
    development: bool = Field(
        default=False,
        description="A development run: the public development master key and pepper of "
        "the key vault and the development token issuer (plain http on loopback) are "
        "accepted. Off, the service refuses to start with any of them. The local stack, "
        "`make run` and the tests turn it on; nothing else should.",
    )

    @model_validator(mode="after")
    def _no_development_values_outside_development(self) -> ServiceSettings:
        if self.development:
            return self
        prefix = str(self.model_config.get("env_prefix", ""))
        refused = [f"{prefix}PRIVACY__{name.upper()}" for name in self.privacy.development_values()]
        refused += [
            f"{prefix}AUTH__{name.upper()}"
            for name, url in (("issuer", self.auth.issuer), ("jwks_url", self.auth.jwks_url))
            if is_development_issuer(url) and (name == "issuer" or self.auth.jwks is None)
        ]
        if refused:
            raise ValueError(
                f"{', '.join(refused)}: the public development value, refused outside "
                "development. Set your own (a key or pepper: openssl rand -base64 32; the "
                f"issuer: your sign-in service), or {prefix}DEVELOPMENT=true for a local "
                "development run."
            )
        return self
