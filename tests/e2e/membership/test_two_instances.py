"""Two membership processes on one database: one seed, one membership, each event once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from contracts.membership import MEMBERSHIP_TOPIC
from tests.support import auth
from tests.support.kafka import read_topic
from tests.support.ports import free_port
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until

AS_OF = "2021-11-19T10:00:00+01:00"


def start_instance(port: int, dsn: str, topic_prefix: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.membership"],
        env={
            **os.environ,
            "MEMBERSHIP_PORT": str(port),
            "MEMBERSHIP_DATABASE_URL": dsn,
            **auth.env("MEMBERSHIP"),
            "MEMBERSHIP_KAFKA__BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
            "MEMBERSHIP_KAFKA__TOPIC_PREFIX": topic_prefix,
            "MEMBERSHIP_CLOCK_AS_OF": AS_OF,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
async def instances(fresh_dsn: str, topic_prefix: str) -> AsyncIterator[list[str]]:
    """Two instances of ``python -m services.membership``, started at the same moment."""
    ports = [free_port(), free_port()]
    processes = [start_instance(port, fresh_dsn, topic_prefix) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        async with httpx.AsyncClient(headers=auth.OPERATOR) as client:

            async def ready(url: str) -> bool:
                try:
                    return (await client.get(f"{url}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            for url in urls:
                await wait_until(lambda url=url: ready(url), timeout=60, what=f"{url} ready")
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.to_thread(process.wait, 30)


async def test_two_instances_share_one_membership_and_publish_each_event_once(
    instances: list[str], fresh_dsn: str, topic_prefix: str
) -> None:
    a, b = instances
    body = {
        "municipality_code": "825",
        "year": 2022,
        "contact_name": "Mette Hansen",
        "contact_email": "mette.hansen@laesoe.dk",
        "ean": "5798000000001",
    }
    async with httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as client:
        responses = await asyncio.gather(
            *(client.post(f"{url}/networks/knub/memberships", json=body) for url in [a, b] * 10)
        )
        assert Counter(r.status_code for r in responses) == {201: 1, 200: 19}
        seen_by_b = await client.get(f"{b}/networks/knub/memberships/2022/825")
        assert seen_by_b.json()["status"] == "active"

        async def in_roster_of_a() -> bool:
            page = (await client.get(f"{a}/networks/knub/roster/2022")).json()
            return [e["municipality_code"] for e in page["items"]] == ["825"]

        await wait_until(in_roster_of_a, timeout=30, what="Læsø in the roster")

    conn = await asyncpg.connect(fresh_dsn)
    try:
        seeds = await conn.fetchval("SELECT count(*) FROM events WHERE stream_id = 'network-knub'")
        assert seeds == 1, "both instances seeded KNUB at once; one event"
        knub_created_at = await conn.fetchval(
            "SELECT data->>'occurred_at' FROM events WHERE stream_id = 'network-knub'"
        )
        assert knub_created_at.startswith("2021-11-19"), "the configured clock"

        async def all_published() -> bool:
            left: int = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            return left == 0

        await wait_until(all_published, what="outbox relayed")
    finally:
        await conn.close()
    records = await read_topic(topic_prefix + MEMBERSHIP_TOPIC, expect=1)
    assert [r.key for r in records] == [b"membership-knub-2022-825"]
