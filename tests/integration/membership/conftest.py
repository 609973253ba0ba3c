"""The membership service in-process, on a fresh database and its own topic prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.kernel.clock import ManualClock
from services.kernel.kafka import KafkaSettings
from services.kernel.outbox import unpublished_count
from services.kernel.privacy import PrivacySettings
from services.membership.bootstrap import Container, bootstrap
from services.membership.config import Settings
from tests.support import auth
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
# The day of the announcement in the seed text: sign-up for 2022 is open.
ANNOUNCEMENT_DAY = datetime(2021, 11, 19, 10, 0, tzinfo=COPENHAGEN)


@dataclass
class MembershipService:
    app: FastAPI
    container: Container
    client: httpx.AsyncClient
    clock: ManualClock
    topic_prefix: str

    @property
    def pool(self) -> asyncpg.Pool:
        return self.container.runtime.pool

    async def event_count(self, stream_id: str | None = None) -> int:
        if stream_id is None:
            count: int = await self.pool.fetchval("SELECT count(*) FROM events")
        else:
            count = await self.pool.fetchval(
                "SELECT count(*) FROM events WHERE stream_id = $1", stream_id
            )
        return count

    async def all_published(self) -> None:
        async def none_left() -> bool:
            return await unpublished_count(self.pool) == 0

        await wait_until(none_left, what="outbox relayed to Kafka")


def join_body(code: str = "101", year: int = 2022, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "municipality_code": code,
        "year": year,
        "contact_name": "Mette Hansen",
        "contact_email": "mette.hansen@kk.dk",
        "ean": "5798000000001",
    }
    body.update(overrides)
    return body


def settings_for(dsn: str, topic_prefix: str) -> Settings:
    return Settings(
        database_url=dsn,
        kafka=KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP, topic_prefix=topic_prefix),
        privacy=PrivacySettings(database_url=dsn),
        pool_size=20,
        auth=auth.SETTINGS,
        metrics_interval_s=0.5,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(ANNOUNCEMENT_DAY)


@pytest.fixture
async def service(
    fresh_dsn: str, topic_prefix: str, clock: ManualClock
) -> AsyncIterator[MembershipService]:
    app = bootstrap(settings_for(fresh_dsn, topic_prefix), clock=clock)
    container: Container = app.state.container
    await container.start()  # ASGITransport runs no lifespan
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://membership", headers=auth.OPERATOR
        ) as client:
            yield MembershipService(app, container, client, clock, topic_prefix)
    finally:
        await container.stop()
