"""Every event type of the system, registered: import this to get the full registry."""

from __future__ import annotations

from contracts import meetings, membership, notifications, outreach, privacy
from contracts.base import EventPayload, registry

MODULES = (membership, outreach, meetings, notifications, privacy)


def all_models() -> dict[str, type[EventPayload]]:
    """CloudEvents type name -> payload model, for every published event type."""
    return registry.types()


__all__ = ["MODULES", "all_models", "registry"]
