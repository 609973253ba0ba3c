"""The clock, injected wherever time matters (deadlines, reminders, the demo's date)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """Real time, shifted so that it started at ``as_of``: the demo runs "as of" a date."""

    def __init__(self, as_of: datetime) -> None:
        if as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")
        self._as_of = as_of
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._as_of + timedelta(seconds=time.monotonic() - self._started)


class ManualClock:
    """A clock that moves only when told to; for tests."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment


def clock_from_setting(as_of: datetime | None) -> Clock:
    """The system clock, or a shifted one when a service is configured with ``CLOCK_AS_OF``."""
    return SystemClock() if as_of is None else ShiftedClock(as_of)
