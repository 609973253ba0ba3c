"""A rebuild of the read models while readers and the subscriber use them: nobody is
aborted as a deadlock victim, and the rebuild ends equal to the live projection.

Both tests set up, with real PostgreSQL locks, the interleaving that deadlocked in CI: a
session holding one read-model table while it waits for another that the rebuild holds.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import asyncpg
import httpx
import pytest
from faststream.kafka import KafkaBroker

from contracts.meetings import MEETING_TOPIC
from services.events.adapters.projections import writer
from services.events.bootstrap import EventsService
from tests.integration.events.conftest import add_members, meeting_body, person
from tests.support.events import projection_caught_up
from tests.support.kafka import read_topic
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until

STATE = """SELECT (SELECT array_agg(registration_id || status ORDER BY 1) FROM participant_view),
                  (SELECT array_agg(meeting_id || taken || '/' || waiting ORDER BY 1)
                   FROM availability_view)"""


async def _registered(client: httpx.AsyncClient, service: EventsService, pool: asyncpg.Pool) -> str:
    await add_members(pool, 2021, "101")
    created = await client.post("/meetings", json=meeting_body(slug="m1", seats=2))
    meeting_id: str = created.json()["meeting_id"]
    for n in range(4):
        r = await client.post(f"/meetings/{meeting_id}/registrations", json=person(n, "101"))
        assert r.status_code in (201, 202), r.text
    await wait_until(lambda: projection_caught_up(service), timeout=30, what="projection")
    return meeting_id


async def _waits_for(pool: asyncpg.Pool, where: str) -> bool:
    waiting: int = await pool.fetchval(
        f"SELECT count(*) FROM pg_locks WHERE NOT granted AND {where}"
    )
    return waiting > 0


async def test_a_reader_that_takes_the_tables_in_another_order_is_given_way_to(
    client: httpx.AsyncClient, service: EventsService, pool: asyncpg.Pool
) -> None:
    await _registered(client, service, pool)
    before = await pool.fetchrow(STATE)
    async with pool.acquire() as reader, reader.transaction():
        # The reader holds participant_view ...
        await reader.fetchval("SELECT count(*) FROM participant_view")
        rebuilding = asyncio.ensure_future(service.rebuild_projections())
        # ... the rebuild has taken meeting_view and availability_view and waits for it ...
        await wait_until(
            lambda: _waits_for(pool, "relation = 'participant_view'::regclass"),
            timeout=30,
            what="the rebuild waiting for participant_view",
        )
        # ... and the reader now wants meeting_view: a cycle, unless the rebuild gives way.
        upcoming = await asyncio.wait_for(
            reader.fetchval("SELECT count(*) FROM meeting_view"), timeout=30
        )
        assert upcoming == 1
    replayed = await asyncio.wait_for(rebuilding, timeout=60)
    assert replayed > 0
    assert await pool.fetchrow(STATE) == before


async def test_a_rebuild_waits_for_the_subscriber_transaction_in_flight(
    client: httpx.AsyncClient,
    service: EventsService,
    pool: asyncpg.Pool,
    topic_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _registered(client, service, pool)
    before = await pool.fetchrow(STATE)
    records = await read_topic(topic_prefix + MEETING_TOPIC, expect=5)
    # The service's own subscription, under another consumer name so these records are
    # new to it: its transaction writes participant_view, then stops before it updates
    # availability_view (as if the server were slow there).
    subscription = dataclasses.replace(
        service.projection_subscription, name=service.projection_subscription.name + "-again"
    )
    halfway = asyncio.Event()
    go_on = asyncio.Event()
    real_refresh = writer.refresh_availability

    async def slow_refresh(*args: Any, **kwargs: Any) -> None:
        halfway.set()
        await go_on.wait()
        await real_refresh(*args, **kwargs)

    monkeypatch.setattr(writer, "refresh_availability", slow_refresh)
    broker = KafkaBroker(KAFKA_BOOTSTRAP, logger=None)
    await broker.connect()
    try:
        applying = asyncio.ensure_future(subscription.handle_records(broker, records))
        await asyncio.wait_for(halfway.wait(), timeout=30)
        monkeypatch.setattr(writer, "refresh_availability", real_refresh)
        rebuilding = asyncio.ensure_future(service.rebuild_projections())
        # The rebuild waits for the guard, not for a table it would deadlock on.
        await wait_until(
            lambda: _waits_for(pool, "locktype = 'advisory'"),
            timeout=30,
            what="the rebuild waiting for the subscriber's transaction",
        )
        assert not await _waits_for(pool, "locktype = 'relation'")
        go_on.set()
        await asyncio.wait_for(applying, timeout=30)
        assert await asyncio.wait_for(rebuilding, timeout=60) > 0
    finally:
        go_on.set()
        await broker.stop()
    assert await pool.fetchrow(STATE) == before
