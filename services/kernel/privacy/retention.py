"""Retention: why a person's data is still needed, and until when.

A hold is (person id, holder, until): a meeting keeps its participants until its end plus
the retention period, a membership its contact until the end of its year plus that
period, a request its person "pending" for a few days. A person whose holds have all run
out is due for erasure (the events service's sweeper erases them); a person with no hold
at all was never given a retention rule and is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg


class Retention:
    """The ``holds`` table of the key vault's database (see :mod:`.vault`)."""

    def __init__(
        self,
        pool: Callable[[], Awaitable[asyncpg.Pool]],
        round_trip: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._round_trip = round_trip

    async def hold(
        self, holds: Sequence[tuple[str, str, datetime | None]], *, keep_existing: bool = False
    ) -> None:
        """Add or move holds: (person id, holder, until; None = until released).

        Holds of persons the vault does not know (erased) are ignored. ``keep_existing``:
        add the holds that do not exist, never move one that does.
        """
        if not holds:
            return
        conflict = "DO NOTHING" if keep_existing else "DO UPDATE SET until = excluded.until"
        pool = await self._pool()
        self._round_trip()
        await pool.execute(
            f"""INSERT INTO holds (person_id, holder, until)
               SELECT h.* FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                   AS h(person_id, holder, until)
               WHERE EXISTS (SELECT 1 FROM persons p WHERE p.person_id = h.person_id)
               ON CONFLICT (person_id, holder) {conflict}""",
            [h[0] for h in holds],
            [h[1] for h in holds],
            [h[2] for h in holds],
        )

    async def move_holds(self, holder: str, until: datetime | None) -> int:
        """Move every hold of one holder (a meeting that moved); how many."""
        pool = await self._pool()
        status: str = await pool.execute(
            "UPDATE holds SET until = $2 WHERE holder = $1", holder, until
        )
        return int(status.split()[-1])

    async def due(self, now: datetime, limit: int = 500) -> list[str]:
        """Persons whose holds have all expired at ``now`` (persons with no hold are kept:
        a hold-less person was never given a retention rule)."""
        pool = await self._pool()
        rows = await pool.fetch(
            """SELECT person_id FROM holds GROUP BY person_id
               HAVING bool_and(until IS NOT NULL AND until <= $1)
               ORDER BY person_id LIMIT $2""",
            now,
            limit,
        )
        return [r["person_id"] for r in rows]
