"""Base for event payload models and the registry of event types.

A CloudEvents ``type`` is ``<name>.v<major>``, e.g. ``dk.kl.membership.joined.v1``. Within a
major version a payload may only grow by optional fields; anything else is a new major
version with its own model (and both are published until consumers have moved).
Readers tolerate extra fields, so an additive change never breaks them.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

_TYPE_RE = re.compile(r"^(?P<name>[a-z][a-z0-9_.]*[a-z0-9_])\.v(?P<major>[1-9][0-9]*)$")


class EventPayload(BaseModel):
    """The JSON data of one event type. Subclasses set ``event_name`` and ``major``."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    event_name: ClassVar[str]
    major: ClassVar[int] = 1
    topic: ClassVar[str]
    retired: ClassVar[bool] = False
    """True: no longer published (kept so its committed schema stays readable)."""

    @classmethod
    def type_name(cls) -> str:
        """The CloudEvents ``type`` of this payload: name plus major version."""
        return f"{cls.event_name}.v{cls.major}"

    def to_data(self) -> dict[str, Any]:
        """The JSON object carried as the event's data."""
        return self.model_dump(mode="json", by_alias=True)


class UnknownEventTypeError(LookupError):
    """No model is registered for a CloudEvents type."""


class FutureSchemaError(LookupError):
    """The type is known, but in a higher major version than this reader understands."""


class PayloadInvalidError(ValueError):
    """The data does not match the registered model of its type."""


P = TypeVar("P", bound=type[EventPayload])


class EventRegistry:
    """Maps CloudEvents types to payload models."""

    def __init__(self) -> None:
        self._models: dict[str, type[EventPayload]] = {}

    def register(self, model: P) -> P:
        type_name = model.type_name()
        if not _TYPE_RE.match(type_name):
            raise ValueError(f"bad event type name {type_name!r}")
        if type_name in self._models and self._models[type_name] is not model:
            raise ValueError(f"event type {type_name!r} registered twice")
        self._models[type_name] = model
        return model

    def model_for(self, type_name: str) -> type[EventPayload]:
        """The model of a type, or a typed error saying why there is none."""
        model = self._models.get(type_name)
        if model is not None:
            return model
        match = _TYPE_RE.match(type_name)
        if match:
            name, major = match["name"], int(match["major"])
            known = [m.major for m in self._models.values() if m.event_name == name]
            if known and major > max(known):
                raise FutureSchemaError(
                    f"{type_name}: this reader knows {name} up to v{max(known)} only"
                )
        raise UnknownEventTypeError(f"unknown event type {type_name!r}")

    def parse(self, type_name: str, data: dict[str, Any]) -> EventPayload:
        """Validate ``data`` against the model of ``type_name``."""
        model = self.model_for(type_name)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise PayloadInvalidError(f"{type_name}: {exc}") from exc

    def types(self) -> dict[str, type[EventPayload]]:
        return dict(self._models)


registry = EventRegistry()
"""The one registry of all event types the services publish."""
