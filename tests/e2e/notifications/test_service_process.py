"""The notifications service as its own processes (two instances), driven through Kafka.

Source events are produced as CloudEvents onto the test's prefixed meetings topic; the
mail lands in an in-process SMTP sink; the feed is read over HTTP from a running instance.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from icalendar import Calendar

from tests.integration.notifications.builders import (
    START,
    Publisher,
    confirmed,
    publish,
    scheduled,
)
from tests.support import auth
from tests.support.notifications_smtp_sink import SmtpSink, smtp_sink
from tests.support.ports import free_port
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until

__all__ = ["publish", "smtp_sink"]

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def ports() -> list[int]:
    return [free_port(), free_port()]


@pytest.fixture
async def instances(
    fresh_dsn: str, topic_prefix: str, smtp_sink: SmtpSink, unique: str, ports: list[int]
) -> AsyncIterator[list[str]]:
    """Two processes of the service sharing one database, consumer group and SMTP sink."""
    env = {
        **os.environ,
        "NOTIFICATIONS_DATABASE_URL": fresh_dsn,
        "NOTIFICATIONS_PRIVACY__DATABASE_URL": fresh_dsn,  # the publisher's vault too
        "NOTIFICATIONS_KAFKA__BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
        "NOTIFICATIONS_KAFKA__TOPIC_PREFIX": topic_prefix,
        "NOTIFICATIONS_CONSUMER_GROUP": f"notifications-{unique}",
        "NOTIFICATIONS_SMTP_HOST": smtp_sink.host,
        "NOTIFICATIONS_SMTP_PORT": str(smtp_sink.port),
        "NOTIFICATIONS_POLL_INTERVAL_SECONDS": "0.2",
        "NOTIFICATIONS_CLOCK_AS_OF": "2021-11-22T09:00:00+00:00",
        **auth.env("NOTIFICATIONS"),
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.notifications",
            cwd=ROOT,
            env={**env, "NOTIFICATIONS_PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        async with httpx.AsyncClient(headers=auth.OPERATOR) as http:
            for url in urls:

                async def ready(url: str = url) -> bool:
                    try:
                        return (await http.get(f"{url}/readyz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await wait_until(ready, timeout=60, what=f"{url} ready")
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_a_registration_on_kafka_becomes_one_mail_with_a_readable_invitation(
    instances: list[str], publish: Publisher, smtp_sink: SmtpSink
) -> None:
    await publish.event(scheduled())
    await publish.event(confirmed("reg-1"))

    async def arrived() -> bool:
        return bool(smtp_sink.to("anne.jensen@aarhus.dk"))

    await wait_until(arrived, timeout=60, what="the confirmation mail")
    [mail] = smtp_sink.to("anne.jensen@aarhus.dk")
    [ics] = [p for p in mail.message.walk() if p.get_content_type() == "text/calendar"]
    cal = Calendar.from_ical(ics.get_payload(decode=True))
    [event] = cal.walk("VEVENT")
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == "reg-1@netvaerk.kl.dk"
    assert event.decoded("DTSTART") == START
    assert str(event["LOCATION"]) == "KL-huset, Weidekampsgade 10, 2300 København S"

    async with httpx.AsyncClient(headers=auth.OPERATOR) as http:

        async def sent_in_feed() -> bool:
            page = (await http.get(f"{instances[1]}/municipalities/751/notifications")).json()
            return [i["status"] for i in page["items"]] == ["sent"]

        await wait_until(sent_in_feed, timeout=20, what="the feed says sent")
    assert len(smtp_sink.messages) == 1, "two instances, one mail"
