"""Dates and times read the way a Danish reader expects, in Copenhagen time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifications.domain.danish_time import (
    MONTHS,
    WEEKDAYS,
    danish_date,
    danish_datetime,
    danish_period,
)


def test_the_december_meeting_is_written_as_a_dane_writes_it() -> None:
    # 08:30 UTC is 09:30 in Copenhagen in winter (CET, UTC+1).
    moment = datetime(2021, 12, 8, 8, 30, tzinfo=UTC)
    assert danish_datetime(moment) == "onsdag den 8. december 2021 kl. 09.30"


def test_summer_time_is_two_hours_ahead_of_utc() -> None:
    assert danish_datetime(datetime(2022, 6, 1, 7, 5, tzinfo=UTC)) == (
        "onsdag den 1. juni 2022 kl. 09.05"
    )


def test_a_late_utc_evening_is_already_the_next_day_in_copenhagen() -> None:
    assert danish_date(datetime(2021, 12, 31, 23, 30, tzinfo=UTC)) == "lørdag den 1. januar 2022"


def test_a_period_within_one_day_names_the_day_once() -> None:
    start = datetime(2021, 12, 8, 8, 30, tzinfo=UTC)
    assert danish_period(start, start + timedelta(hours=6)) == (
        "onsdag den 8. december 2021 kl. 09.30-15.30"
    )


def test_a_period_across_days_names_both_days() -> None:
    start = datetime(2021, 12, 8, 8, 30, tzinfo=UTC)
    assert danish_period(start, start + timedelta(days=1)) == (
        "onsdag den 8. december 2021 kl. 09.30 til torsdag den 9. december 2021 kl. 09.30"
    )


def test_a_naive_datetime_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="naive"):
        danish_datetime(datetime(2021, 12, 8, 9, 30))


@given(st.datetimes(timezones=st.just(UTC), min_value=datetime(1990, 1, 1)))
def test_every_moment_reads_weekday_den_day_month_year_kl_hh_mm(moment: datetime) -> None:
    text = danish_datetime(moment)
    weekday, den, day, month, year, kl, clock = text.split(" ")
    assert weekday in WEEKDAYS
    assert den == "den"
    assert kl == "kl."
    assert day.endswith(".")
    assert 1 <= int(day[:-1]) <= 31
    assert month in MONTHS
    assert len(year) == 4
    hours, minutes = clock.split(".")
    assert len(hours) == 2
    assert len(minutes) == 2
    assert int(hours) < 24
    assert int(minutes) < 60
