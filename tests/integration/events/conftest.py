"""The events service in-process against the stack's PostgreSQL and Kafka, per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from services.events.bootstrap import EventsService, bootstrap
from services.events.config import Settings
from services.events.service_layer.ports import (
    MembershipServiceUnavailableError,
    MembershipStatus,
)
from services.kernel.clock import ManualClock
from services.kernel.kafka import KafkaSettings
from services.kernel.privacy import PrivacySettings
from tests.support import auth
from tests.support.stack import KAFKA_BOOTSTRAP

CPH = ZoneInfo("Europe/Copenhagen")
AS_OF = datetime(2021, 11, 19, 9, 0, tzinfo=CPH)


@dataclass
class ScriptedLookup:
    """The membership service's answers, scripted by the test."""

    active: set[tuple[str, int, str]] = field(default_factory=set)
    down: bool = False
    asked: list[tuple[str, int, str]] = field(default_factory=list)

    async def status(
        self, network_slug: str, year: int, municipality_code: str
    ) -> MembershipStatus | None:
        self.asked.append((network_slug, year, municipality_code))
        if self.down:
            raise MembershipServiceUnavailableError("connection refused")
        return "active" if (network_slug, year, municipality_code) in self.active else None


@dataclass
class ScriptedCompleteness:
    """Whether the membership view can be shown complete, scripted by the test: True
    unless the test makes the view "behind" (then the lookup is asked)."""

    complete: bool = True

    def now(self) -> float:
        return 0.0

    async def complete_since(self, asked_at: float) -> bool:
        return self.complete


@pytest.fixture
def completeness() -> ScriptedCompleteness:
    return ScriptedCompleteness()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(AS_OF)


@pytest.fixture
def lookup() -> ScriptedLookup:
    return ScriptedLookup()


@pytest.fixture
def settings(fresh_dsn: str, topic_prefix: str) -> Settings:
    return Settings(
        database_url=fresh_dsn,
        kafka=KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP, topic_prefix=topic_prefix),
        privacy=PrivacySettings(database_url=fresh_dsn),
        snapshot_every=50,
        auth=auth.SETTINGS,
    )


@pytest.fixture
async def service(
    settings: Settings,
    clock: ManualClock,
    lookup: ScriptedLookup,
    completeness: ScriptedCompleteness,
) -> AsyncIterator[EventsService]:
    svc = bootstrap(settings, clock=clock, lookup=lookup, completeness=completeness)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


@pytest.fixture
async def client(service: EventsService) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://events.test", timeout=120, headers=auth.OPERATOR
    ) as http:
        yield http


@pytest.fixture
def pool(service: EventsService) -> asyncpg.Pool:
    return service.runtime.pool


def meeting_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slug": "knub-2021-3",
        "network_slug": "knub",
        "year": 2021,
        "title": "3. netværksmøde 2021",
        "description": "Anvisning og udlejning",
        "starts_at": "2021-12-08T09:30:00",
        "ends_at": "2021-12-08T15:30:00",
        "venue_name": "KL-huset",
        "venue_address": "Weidekampsgade 10, 2300 København S",
        "seats": 80,
        "registration_deadline": "2021-12-03T12:00:00",
        "per_municipality_cap": None,
        "guest_price_dkk": None,
        "next_year_members_free": True,
    }
    body.update(overrides)
    return body


def person(n: int, code: str = "101", email: str | None = None) -> dict[str, Any]:
    return {
        "name": f"Deltager {n}",
        "email": email or f"deltager{n}@kommune{code}.dk",
        "job_title": "Boligsocial konsulent",
        "municipality_code": code,
    }


async def add_members(pool: asyncpg.Pool, year: int, *codes: str, slug: str = "knub") -> None:
    """Put active memberships in the service's view, as the membership topic would."""
    await pool.executemany(
        """INSERT INTO membership_view (network_slug, year, municipality_code, status, source)
           VALUES ($1, $2, $3, 'active', 'event') ON CONFLICT DO NOTHING""",
        [(slug, year, code) for code in codes],
    )


async def event_count(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM events")
    return count
