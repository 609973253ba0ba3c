"""The notifications service in-process, against the real Kafka and PostgreSQL, with an
in-process SMTP sink and a manual clock; the tests drive the worker with ``tick``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID

import asyncpg
import pytest

from services.kernel.clock import ManualClock
from services.kernel.kafka import KafkaSettings
from services.kernel.privacy import PrivacySettings
from services.notifications.bootstrap import NotificationsService, bootstrap
from services.notifications.config import Settings
from tests.integration.notifications.builders import NOW, publish
from tests.support import auth
from tests.support.notifications_smtp_sink import SmtpSink, smtp_sink
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until

__all__ = ["publish", "smtp_sink"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def settings(fresh_dsn: str, topic_prefix: str, smtp_sink: SmtpSink, unique: str) -> Settings:
    return Settings(
        database_url=fresh_dsn,
        kafka=KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP, topic_prefix=topic_prefix),
        privacy=PrivacySettings(database_url=fresh_dsn),
        consumer_group=f"notifications-{unique}",
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        smtp_timeout_seconds=5,
        retry_base=timedelta(minutes=1),
        retry_cap=timedelta(minutes=30),
        max_attempts=5,
        reminder_before=timedelta(days=2),
        auth=auth.SETTINGS,
    )


@pytest.fixture
async def service(settings: Settings, clock: ManualClock) -> AsyncIterator[NotificationsService]:
    svc = bootstrap(settings, clock=clock, background=False)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


@pytest.fixture
def pool(service: NotificationsService) -> asyncpg.Pool:
    return service.runtime.pool


async def processed(pool: asyncpg.Pool, *event_ids: UUID, timeout: float = 30) -> None:
    """Wait until the subscription has handled these events (their ids are recorded)."""

    async def done() -> bool:
        n = await pool.fetchval(
            "SELECT count(*) FROM processed_events WHERE event_id = ANY($1::uuid[])",
            list(event_ids),
        )
        return bool(n == len(set(event_ids)))

    await wait_until(done, timeout=timeout, what="events processed")
