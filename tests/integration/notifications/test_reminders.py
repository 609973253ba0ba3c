"""Reminders: due a configured time before the meeting, on the injected clock; they move
with the meeting and vanish with it."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from services.kernel.clock import ManualClock
from services.notifications.bootstrap import NotificationsService
from tests.integration.notifications.builders import (
    BO,
    START,
    Publisher,
    confirmed,
    meeting_cancelled,
    rescheduled,
    scheduled,
    waitlisted,
)
from tests.integration.notifications.conftest import processed
from tests.support.notifications_smtp_sink import SmtpSink

DUE = START - timedelta(days=2)


def reminders(sink: SmtpSink) -> list[str]:
    return [r for m in sink.messages if m.subject.startswith("Påmindelse") for r in m.rcpt_tos]


async def test_a_reminder_goes_to_those_with_a_seat_at_the_configured_time(
    service: NotificationsService,
    pool: asyncpg.Pool,
    publish: Publisher,
    smtp_sink: SmtpSink,
    clock: ManualClock,
) -> None:
    ids = [
        await publish.event(scheduled()),
        await publish.event(confirmed("reg-1")),
        await publish.event(waitlisted("reg-2", BO, 1)),
    ]
    await processed(pool, *ids)
    clock.set(DUE - timedelta(minutes=1))
    assert (await service.tick())[0] == 0
    assert reminders(smtp_sink) == []

    clock.set(DUE)
    assert (await service.tick())[0] == 1
    assert reminders(smtp_sink) == ["anne.jensen@aarhus.dk"], "not to the waiting list"
    [mail] = [m for m in smtp_sink.messages if m.subject.startswith("Påmindelse")]
    assert mail.subject == "Påmindelse: 3. netværksmøde 2021 onsdag den 8. december 2021"

    clock.advance(timedelta(hours=1))
    assert (await service.tick())[0] == 0, "a reminder fires once"


async def test_a_rescheduled_meeting_moves_its_reminder(
    service: NotificationsService,
    pool: asyncpg.Pool,
    publish: Publisher,
    smtp_sink: SmtpSink,
    clock: ManualClock,
) -> None:
    later = START + timedelta(days=7)
    ids = [
        await publish.event(scheduled()),
        await publish.event(confirmed("reg-1")),
        await publish.event(rescheduled(later)),
    ]
    await processed(pool, *ids)
    clock.set(DUE)
    assert (await service.tick())[0] == 0, "not at the old time"
    clock.set(later - timedelta(days=2))
    assert (await service.tick())[0] == 1
    assert reminders(smtp_sink) == ["anne.jensen@aarhus.dk"]
    moved = [m for m in smtp_sink.messages if m.subject.startswith("Ændret tid")]
    assert len(moved) == 1, "the participant was told of the move, with an updated invitation"
    assert any(p.get_content_type() == "text/calendar" for p in moved[0].message.walk())


async def test_a_cancelled_meeting_drops_its_reminder(
    service: NotificationsService,
    pool: asyncpg.Pool,
    publish: Publisher,
    smtp_sink: SmtpSink,
    clock: ManualClock,
) -> None:
    ids = [
        await publish.event(scheduled()),
        await publish.event(confirmed("reg-1")),
        await publish.event(meeting_cancelled()),
    ]
    await processed(pool, *ids)
    assert await pool.fetchval("SELECT count(*) FROM reminders") == 0
    clock.set(DUE)
    assert (await service.tick())[0] == 0
    assert reminders(smtp_sink) == []
    subjects = sorted(m.subject for m in smtp_sink.messages)
    assert subjects == [
        "Aflyst: 3. netværksmøde 2021",
        "Tilmelding bekræftet: 3. netværksmøde 2021",
    ]
