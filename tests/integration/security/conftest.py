"""The three services in-process, trusting the test key, with clients that send no token.

A test chooses the caller per request (``headers=auth.headers(...)``); the data every access
test needs (a membership of 751, a meeting, a registration of a 751 participant) is made as
an operator first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.events.bootstrap import bootstrap as bootstrap_events
from services.events.config import Settings as EventsSettings
from services.kernel.clock import ManualClock
from services.membership.bootstrap import bootstrap as bootstrap_membership
from services.membership.config import Settings as MembershipSettings
from services.notifications.bootstrap import bootstrap as bootstrap_notifications
from services.notifications.config import Settings as NotificationsSettings
from tests.integration.hardening.conftest import (
    AS_OF,
    JOIN,
    MEETING,
    PARTICIPANT,
    EveryoneIsAMember,
    kafka,
)
from tests.support import auth

OWN = "751"
OTHER = "101"
OWN_EMAIL = str(PARTICIPANT["email"])
OTHER_EMAIL = "bo.berg@kk.dk"


@dataclass
class Service:
    """A service's app, its database pool (to count events) and a client without a token."""

    name: str
    app: FastAPI
    client: httpx.AsyncClient
    pool: asyncpg.Pool | None
    streams: tuple[str, ...] = ()
    """``LIKE`` patterns of the service's own streams (the three share one database)."""

    async def event_count(self) -> int:
        """Events in this service's own streams (its HTTP commands write nothing else)."""
        if self.pool is None:
            return 0
        async with self.pool.acquire() as conn:
            count: int = await conn.fetchval(
                "SELECT count(*) FROM events WHERE stream_id LIKE ANY($1::text[])",
                list(self.streams),
            )
            return count


@dataclass
class World:
    membership: Service
    events: Service
    notifications: Service
    meeting_id: str
    registration_id: str
    membership_id: str

    def service(self, name: str) -> Service:
        service: Service = getattr(self, name)
        return service


def _client(name: str, app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=f"http://{name}.test", timeout=60)


@pytest.fixture
async def world(fresh_dsn: str, topic_prefix: str, unique: str) -> AsyncIterator[World]:
    membership_app = bootstrap_membership(
        MembershipSettings(database_url=fresh_dsn, kafka=kafka(topic_prefix), auth=auth.SETTINGS),
        clock=ManualClock(AS_OF),
    )
    events = bootstrap_events(
        EventsSettings(database_url=fresh_dsn, kafka=kafka(topic_prefix), auth=auth.SETTINGS),
        clock=ManualClock(AS_OF),
        lookup=EveryoneIsAMember(),
    )
    notifications = bootstrap_notifications(
        NotificationsSettings(
            database_url=fresh_dsn,
            kafka=kafka(topic_prefix),
            consumer_group=f"notifications-{unique}",
            auth=auth.SETTINGS,
        ),
        clock=ManualClock(AS_OF),
        background=False,
    )
    container = membership_app.state.container
    await container.start()
    await events.start()
    await notifications.start()
    try:
        async with (
            _client("membership", membership_app) as m,
            _client("events", events.app) as e,
            _client("notifications", notifications.app) as n,
        ):
            op = auth.OPERATOR
            joined = await m.post(
                "/networks/knub/memberships", json={**JOIN, "municipality_code": OWN}, headers=op
            )
            assert joined.status_code == 201, joined.text
            scheduled = await e.post("/meetings", json=MEETING, headers=op)
            assert scheduled.status_code == 201, scheduled.text
            meeting_id = scheduled.json()["meeting_id"]
            registered = await e.post(
                f"/meetings/{meeting_id}/registrations", json=PARTICIPANT, headers=op
            )
            assert registered.status_code == 201, registered.text
            yield World(
                membership=Service(
                    "membership",
                    membership_app,
                    m,
                    container.runtime.pool,
                    ("membership-%", "network-%"),
                ),
                events=Service("events", events.app, e, events.runtime.pool, ("meeting-%",)),
                notifications=Service("notifications", notifications.app, n, None),
                meeting_id=meeting_id,
                registration_id=registered.json()["registration_id"],
                membership_id=joined.json()["membership_id"],
            )
    finally:
        await notifications.stop()
        await events.stop()
        await container.stop()


def callers() -> dict[str, dict[str, Any]]:
    """The six callers of the access matrix, by name, as request headers."""
    return {
        "none": {},
        "operator": auth.headers("operator"),
        "coordinator_own": auth.headers("coordinator", OWN),
        "coordinator_other": auth.headers("coordinator", OTHER),
        "participant_own": auth.headers("participant", OWN, OWN_EMAIL),
        "participant_other": auth.headers("participant", OTHER, OTHER_EMAIL),
    }
