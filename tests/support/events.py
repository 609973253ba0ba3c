"""Conditions on an in-process events service, for ``wait_until``."""

from __future__ import annotations

from services.events.bootstrap import EventsService


async def projection_caught_up(service: EventsService) -> bool:
    """Every stored event has been applied by the service's projection subscriber."""
    pool = service.runtime.pool
    events = await pool.fetchval("SELECT count(*) FROM events")
    applied = await pool.fetchval(
        "SELECT count(*) FROM processed_events WHERE consumer = $1",
        service.projection_subscription.name,
    )
    return bool(events) and applied == events
