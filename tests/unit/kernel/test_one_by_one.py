"""A subscription whose batch handler does all its work applies a lone event as a batch of one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from contracts.catalog import registry
from services.kernel.subscriber import InboundEvent, one_by_one


def test_each_handled_type_gets_a_handler_that_hands_its_event_on_alone() -> None:
    handled = list(registry.types().values())[:3]
    seen: list[tuple[Any, list[InboundEvent]]] = []

    async def on_events(conn: Any, events: Sequence[InboundEvent]) -> None:
        seen.append((conn, list(events)))

    handlers = one_by_one(handled, on_events)
    assert list(handlers) == handled
    event = cast(InboundEvent, object())
    asyncio.run(handlers[handled[1]](cast(Any, "conn"), event))
    assert seen == [("conn", [event])]
