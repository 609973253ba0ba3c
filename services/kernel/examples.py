"""The OpenAPI examples of the services' HTTP models: one way to attach them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict


def examples(*values: dict[str, Any], extra: Literal["forbid"] | None = None) -> ConfigDict:
    """A model's configuration with its OpenAPI examples (and, if asked, no unknown fields)."""
    config = ConfigDict(json_schema_extra={"examples": list(values)})
    if extra is not None:
        config["extra"] = extra
    return config
