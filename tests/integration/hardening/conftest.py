"""The three services in-process, each on a fresh database and its own topic prefix.

Each fixture yields an :class:`Api`: the FastAPI app with its runtime started (ASGITransport
runs no lifespan) and an HTTP client on it. The events service's view of memberships is never
shown complete here, so it asks a fake membership lookup that finds everyone a member:
eligibility never depends on another process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from services.events.bootstrap import bootstrap as bootstrap_events
from services.events.config import Settings as EventsSettings
from services.events.service_layer.ports import MembershipStatus
from services.kernel.clock import ManualClock
from services.kernel.kafka import KafkaSettings
from services.membership.bootstrap import bootstrap as bootstrap_membership
from services.membership.config import Settings as MembershipSettings
from services.notifications.bootstrap import bootstrap as bootstrap_notifications
from services.notifications.config import Settings as NotificationsSettings
from tests.support import auth
from tests.support.stack import KAFKA_BOOTSTRAP

CPH = ZoneInfo("Europe/Copenhagen")
# The day of the announcement: sign-up for 2022 is open, the 2021 meetings are ahead.
AS_OF = datetime(2021, 11, 19, 9, 0, tzinfo=CPH)


@dataclass
class Api:
    """A service's app, reachable in-process through ``client``."""

    name: str
    app: FastAPI
    client: httpx.AsyncClient


class EveryoneIsAMember:
    """A membership lookup that finds every municipality a member of every year."""

    async def status(
        self, network_slug: str, year: int, municipality_code: str
    ) -> MembershipStatus | None:
        return "active"


class NeverComplete:
    """The membership view is never shown complete: every non-member is looked up."""

    def now(self) -> float:
        return 0.0

    async def complete_since(self, asked_at: float) -> bool:
        return False


def kafka(topic_prefix: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP, topic_prefix=topic_prefix)


def in_process(name: str, app: FastAPI) -> httpx.AsyncClient:
    # raise_app_exceptions=False: a 500 must reach the test as a response, as a client sees it.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(
        transport=transport, base_url=f"http://{name}.test", timeout=60, headers=auth.OPERATOR
    )


@pytest.fixture
async def membership(fresh_dsn: str, topic_prefix: str) -> AsyncIterator[Api]:
    app = bootstrap_membership(
        MembershipSettings(database_url=fresh_dsn, kafka=kafka(topic_prefix), auth=auth.SETTINGS),
        clock=ManualClock(AS_OF),
    )
    container = app.state.container
    await container.start()
    try:
        async with in_process("membership", app) as client:
            yield Api("membership", app, client)
    finally:
        await container.stop()


@pytest.fixture
async def events(fresh_dsn: str, topic_prefix: str) -> AsyncIterator[Api]:
    service = bootstrap_events(
        EventsSettings(database_url=fresh_dsn, kafka=kafka(topic_prefix), auth=auth.SETTINGS),
        clock=ManualClock(AS_OF),
        lookup=EveryoneIsAMember(),
        completeness=NeverComplete(),
    )
    await service.start()
    try:
        async with in_process("events", service.app) as client:
            yield Api("events", service.app, client)
    finally:
        await service.stop()


@pytest.fixture
async def notifications(fresh_dsn: str, topic_prefix: str, unique: str) -> AsyncIterator[Api]:
    service = bootstrap_notifications(
        NotificationsSettings(
            database_url=fresh_dsn,
            kafka=kafka(topic_prefix),
            consumer_group=f"notifications-{unique}",
            auth=auth.SETTINGS,
        ),
        clock=ManualClock(AS_OF),
        background=False,  # no mail is sent: these tests look at the HTTP edge only
    )
    await service.start()
    try:
        async with in_process("notifications", service.app) as client:
            yield Api("notifications", service.app, client)
    finally:
        await service.stop()


MEETING = {
    "slug": "knub-2021-3",
    "network_slug": "knub",
    "year": 2021,
    "title": "3. netværksmøde 2021",
    "description": "Anvisning og udlejning",
    "starts_at": "2021-12-08T09:30:00",
    "ends_at": "2021-12-08T15:30:00",
    "venue_name": "KL-huset",
    "venue_address": "Weidekampsgade 10, 2300 København S",
    "seats": 2,
    "registration_deadline": "2021-12-03T12:00:00",
    "next_year_members_free": True,
}

PARTICIPANT = {
    "name": "Anne Jensen",
    "email": "anne.jensen@aarhus.dk",
    "job_title": "Boligsocial koordinator",
    "municipality_code": "751",
    "note": "Vegetar",
}

JOIN = {
    "municipality_code": "101",
    "year": 2022,
    "contact_name": "Mette Hansen",
    "contact_email": "mette.hansen@kk.dk",
    "ean": "5798000000001",
}


async def schedule_meeting(events: Api, **overrides: object) -> str:
    r = await events.client.post("/meetings", json={**MEETING, **overrides})
    assert r.status_code == 201, r.text
    meeting_id: str = r.json()["meeting_id"]
    return meeting_id


async def register(events: Api, meeting_id: str, **overrides: object) -> str:
    r = await events.client.post(
        f"/meetings/{meeting_id}/registrations", json={**PARTICIPANT, **overrides}
    )
    assert r.status_code in (201, 202), r.text
    registration_id: str = r.json()["registration_id"]
    return registration_id


async def join(membership: Api, **overrides: object) -> str:
    r = await membership.client.post("/networks/knub/memberships", json={**JOIN, **overrides})
    assert r.status_code in (200, 201), r.text
    membership_id: str = r.json()["membership_id"]
    return membership_id
