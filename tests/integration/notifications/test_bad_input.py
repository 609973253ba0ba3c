"""What the subscription cannot read goes to the dead-letter topic; the stream goes on."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Envelope, encode
from contracts.meetings import MEETING_TOPIC
from services.kernel.kafka import dead_letter_topic
from services.kernel.subscriber import DLT_CONSUMER, DLT_ERROR
from services.notifications.bootstrap import NotificationsService
from tests.integration.notifications.builders import (
    MEETING_ID,
    Publisher,
    confirmed,
    joined,
    scheduled,
)
from tests.integration.notifications.conftest import processed
from tests.support.kafka import read_topic
from tests.support.notifications_smtp_sink import SmtpSink


async def test_unknown_types_broken_payloads_and_unknown_meetings_are_dead_lettered(
    service: NotificationsService,
    pool: asyncpg.Pool,
    publish: Publisher,
    smtp_sink: SmtpSink,
    topic_prefix: str,
) -> None:
    unknown = Envelope(
        type="dk.kl.events.meeting_teleported.v1",
        source="/kl/events",
        subject=MEETING_ID,
        data={"meeting_id": MEETING_ID},
    )
    broken = Envelope(
        type=confirmed("reg-x").type_name(),
        source="/kl/events",
        subject=MEETING_ID,
        data={"meeting_id": MEETING_ID, "participant": "not a person"},
    )
    await publish.raw(MEETING_TOPIC, encode(unknown))
    await publish.raw(MEETING_TOPIC, encode(broken))
    await publish.event(confirmed("reg-0", meeting_id="meeting-never-scheduled"))
    ids = [
        await publish.event(scheduled()),
        await publish.event(confirmed("reg-1")),
        await publish.event(joined()),
    ]
    await processed(pool, *ids)
    await service.tick()

    subjects = sorted(m.subject for m in smtp_sink.messages)
    assert subjects == [
        "Tilmelding bekræftet: 3. netværksmøde 2021",
        "Velkommen i KNUB 2022",
    ], "the stream kept moving past the bad records"
    dlt = await read_topic(dead_letter_topic(topic_prefix + MEETING_TOPIC), expect=3)
    reasons = sorted(dict(r.headers)[DLT_ERROR].decode() for r in dlt)
    assert len(reasons) == 3
    assert {dict(r.headers)[DLT_CONSUMER].decode() for r in dlt} == {
        service.settings.consumer_group
    }
    assert any("unknown event type" in r for r in reasons)
    assert any("PayloadInvalidError" in r for r in reasons)
    assert any("never scheduled" in r for r in reasons)
