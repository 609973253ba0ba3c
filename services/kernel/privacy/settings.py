"""The key vault's settings, nested in each service's settings: ``EVENTS_PRIVACY__*``..."""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_DEV_MASTER_KEY = base64.b64encode(b"kl-dev-master-key-not-for-prod!!").decode()
_DEV_PEPPER = base64.b64encode(b"kl-dev-pepper-not-for-production").decode()
DEVELOPMENT_SECRETS = frozenset({_DEV_MASTER_KEY, _DEV_PEPPER})
"""The master key and pepper written in this file (public): development only."""


class PrivacySettings(BaseModel):
    """The vault, nested in each service's settings: ``EVENTS_PRIVACY__DATABASE_URL``..."""

    # A validation error must not print a key it refuses.
    model_config = ConfigDict(hide_input_in_errors=True)

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:55432/kl_privacy",
        description="The key vault's database, shared by every service.",
    )
    master_key: SecretStr = Field(
        default=SecretStr(_DEV_MASTER_KEY),
        description="Base64 of 32 bytes: wraps every person's data key. The default is for "
        "development only; production takes it from a secret store.",
    )
    previous_master_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Master keys used before a rotation (a JSON list of base64 keys): "
        "they still open the data keys wrapped under them and never wrap a new one. Remove "
        "them once `python -m services.operator rewrap-keys` has rewrapped every key.",
    )
    pepper: SecretStr = Field(
        default=SecretStr(_DEV_PEPPER),
        description="Base64 of at least 16 bytes: the HMAC key of e-mail digests.",
    )
    key_cache_s: float = Field(
        default=30.0, ge=0, description="How long a process may reuse a data key it fetched."
    )
    retention_days: int = Field(
        default=90,
        ge=0,
        description="Days after a meeting's end before its participants' "
        "personal data is erased automatically.",
    )
    pending_days: int = Field(
        default=7,
        ge=1,
        description="Days a person made for a request is held ('pending') at least: a "
        "request that was refused gives them no other hold, so the retention sweeper "
        "erases them once this has run out.",
    )
    sweep_interval_s: float = Field(
        default=60.0, gt=0, le=3600, description="How often the retention sweeper looks."
    )
    pool_size: int = Field(default=5, ge=1)

    def development_values(self) -> list[str]:
        """The settings that hold the public development key or pepper."""
        named = [("master_key", self.master_key), ("pepper", self.pepper)] + [
            (f"previous_master_keys[{n}]", k) for n, k in enumerate(self.previous_master_keys)
        ]
        return [name for name, value in named if value.get_secret_value() in DEVELOPMENT_SECRETS]

    @field_validator("master_key")
    @classmethod
    def _a_master_key(cls, value: SecretStr) -> SecretStr:
        master_key_bytes(value, "master_key")
        return value

    @field_validator("pepper")
    @classmethod
    def _a_pepper(cls, value: SecretStr) -> SecretStr:
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("pepper is not base64 (make one: openssl rand -base64 32)") from None
        if len(raw) < 16:
            raise ValueError(f"pepper must be at least 16 bytes, base64-encoded; it is {len(raw)}")
        return value

    @field_validator("previous_master_keys")
    @classmethod
    def _master_keys(cls, values: list[SecretStr]) -> list[SecretStr]:
        for n, value in enumerate(values):
            master_key_bytes(value, f"previous_master_keys[{n}]")
        return values


def master_key_bytes(value: SecretStr, name: str) -> bytes:
    """The 32 bytes of a base64 master key; a clear error (without the key) otherwise."""
    try:
        raw = base64.b64decode(value.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} is not base64 (make one: openssl rand -base64 32)") from None
    if len(raw) != 32:
        raise ValueError(f"{name} must be 32 bytes, base64-encoded; it is {len(raw)} bytes")
    return raw
