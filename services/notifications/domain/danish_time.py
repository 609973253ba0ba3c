"""Dates and times as a Danish reader expects them, in Copenhagen time.

"onsdag den 8. december 2021 kl. 09.30": weekday and month in lower case, a full stop after
the day number, "kl." before the time and a full stop between hours and minutes. The names
are written here rather than taken from the OS locale, which may not have Danish installed.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")

WEEKDAYS = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
MONTHS = (
    "januar",
    "februar",
    "marts",
    "april",
    "maj",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "december",
)


def local(moment: datetime) -> datetime:
    """``moment`` in Copenhagen time; a naive datetime is refused, not guessed."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in time; give it a time zone")
    return moment.astimezone(COPENHAGEN)


def danish_date(moment: datetime) -> str:
    """``onsdag den 8. december 2021``."""
    t = local(moment)
    return f"{WEEKDAYS[t.weekday()]} den {t.day}. {MONTHS[t.month - 1]} {t.year}"


def danish_clock(moment: datetime) -> str:
    """``09.30``."""
    t = local(moment)
    return f"{t.hour:02d}.{t.minute:02d}"


def danish_datetime(moment: datetime) -> str:
    """``onsdag den 8. december 2021 kl. 09.30``."""
    return f"{danish_date(moment)} kl. {danish_clock(moment)}"


def danish_period(starts_at: datetime, ends_at: datetime) -> str:
    """``onsdag den 8. december 2021 kl. 09.30-15.00``, or both in full across days."""
    if local(starts_at).date() == local(ends_at).date():
        return f"{danish_datetime(starts_at)}-{danish_clock(ends_at)}"
    return f"{danish_datetime(starts_at)} til {danish_datetime(ends_at)}"
