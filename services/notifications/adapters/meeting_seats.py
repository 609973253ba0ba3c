"""How many seats each meeting has, beside the view of registrations: the seats left.

The view of meetings (:mod:`.store`) keeps what the participants' mails need; the number
of seats only an invitation needs ("there are 12 free seats right now"), so it has a table
of its own (``meeting_seats``, in :mod:`.migrations`), written when a meeting is scheduled
or its seats change. The seats taken are the registrations with a seat in the same view.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import asyncpg


class PostgresSeats:
    """:class:`~services.notifications.service_layer.ports.SeatCounts` on one connection,
    inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def save_seats(self, changes: Sequence[tuple[str, int]]) -> None:
        """(meeting id, seats) in the order they happened; a later one wins."""
        if changes:
            await self.conn.executemany(
                """INSERT INTO meeting_seats (meeting_id, seats) VALUES ($1, $2)
                   ON CONFLICT (meeting_id) DO UPDATE SET seats = excluded.seats""",
                list(changes),
            )

    async def seats_left(self, meeting_ids: Collection[str]) -> dict[str, int]:
        """Seats minus the registrations with a seat, of the meetings whose seats are known."""
        if not meeting_ids:
            return {}
        rows = await self.conn.fetch(
            """SELECT s.meeting_id,
                      s.seats - count(r.registration_id) FILTER (WHERE r.status = 'seat')
                          AS seats_left
               FROM meeting_seats s LEFT JOIN registrations r USING (meeting_id)
               WHERE s.meeting_id = ANY($1::text[]) GROUP BY s.meeting_id, s.seats""",
            list(meeting_ids),
        )
        return {r["meeting_id"]: max(int(r["seats_left"]), 0) for r in rows}
