"""Retention: how long a participant's personal data is kept.

A participant's data is held until the meeting's end plus the retention period; a meeting
that moves moves its holds. The retention sweeper (:mod:`.erasure`) erases a person once
every hold on them has run out.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta

from services.events.service_layer.ports import Holds, MeetingEnds


async def hold_participants(
    holds: Holds,
    ends: MeetingEnds,
    retention: timedelta,
    registered: Sequence[tuple[str, str]],
    moved: Collection[str],
) -> None:
    """Hold each registered person (person id, meeting id) until their meeting's end plus
    ``retention`` (one vault round trip for them all), and move the holds of the meetings
    that ``moved``."""
    meetings = {meeting for _, meeting in registered} | set(moved)
    if not meetings:
        return
    end = await ends.ends(meetings)
    await holds.hold(
        [(person, f"meeting:{m}", end[m] + retention) for person, m in registered if m in end]
    )
    for meeting in sorted(set(moved) & set(end)):
        await holds.move_holds(f"meeting:{meeting}", end[meeting] + retention)
