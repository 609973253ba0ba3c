"""Use case: import the lists of housing areas of one date (all or nothing, idempotent)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from services.kernel.clock import Clock
from services.membership.domain.area_lists import (
    AreaList,
    ImportAreaList,
    RawRow,
    decide_import,
    evolve,
    read_rows,
)
from services.membership.service_layer.handlers import recorded, retrying
from services.membership.service_layer.ports import OutreachStreams


@dataclass(frozen=True)
class ImportOutcome:
    """The list after an import; ``changed`` is False when it was the same list again."""

    area_list: AreaList
    changed: bool


async def import_area_list(
    streams: OutreachStreams, clock: Clock, rows: Sequence[RawRow], *, partial: bool
) -> ImportOutcome:
    """Read the rows (refusing the whole import if any is bad), then publish the list as
    the next revision of its date unless it is the same list again."""
    list_date, listed = read_rows(rows)

    async def attempt() -> ImportOutcome:
        state, version = await streams.load_area_list(list_date)
        events = decide_import(state, ImportAreaList(list_date, listed, partial, clock.now()))
        state = await recorded(
            state, events, evolve, functools.partial(streams.append_area_list, list_date, version)
        )
        assert state is not None
        return ImportOutcome(state, bool(events))

    return await retrying(attempt)
