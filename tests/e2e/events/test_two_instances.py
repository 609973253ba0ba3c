"""Two processes of the events service at once, one database: seat decisions stay serialised."""

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

from tests.support import auth
from tests.support.ports import free_port
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until


def start_instance(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``python -m services.events``, as an operator starts it."""
    return subprocess.Popen(
        [sys.executable, "-m", "services.events"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
async def instances(fresh_dsn: str, topic_prefix: str) -> AsyncIterator[list[str]]:
    ports = [free_port(), free_port()]
    env = {
        **os.environ,
        "EVENTS_DATABASE_URL": fresh_dsn,
        "EVENTS_KAFKA__BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
        "EVENTS_KAFKA__TOPIC_PREFIX": topic_prefix,
        "EVENTS_CLOCK_AS_OF": "2021-11-19T09:00:00+01:00",
        "EVENTS_MEMBERSHIP_URL": "http://127.0.0.1:9",  # nothing listens: unreachable
        **auth.env("EVENTS"),
    }
    processes = [start_instance({**env, "EVENTS_PORT": str(port)}) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        async with httpx.AsyncClient(headers=auth.OPERATOR, timeout=5) as http:

            async def ready() -> bool:
                for url in urls:
                    try:
                        if (await http.get(f"{url}/readyz")).status_code != 200:
                            return False
                    except httpx.HTTPError:
                        return False
                return True

            await wait_until(ready, timeout=60, what="both instances ready")
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.to_thread(process.wait, 20)


async def test_two_instances_share_the_seats_without_ever_overbooking(
    instances: list[str], fresh_dsn: str
) -> None:
    a, b = instances
    codes = [f"{n:03d}" for n in range(101, 141)]
    conn = await asyncpg.connect(fresh_dsn)
    try:
        await conn.executemany(
            """INSERT INTO membership_view (network_slug, year, municipality_code, status, source)
               VALUES ('knub', 2021, $1, 'active', 'event')""",
            [(code,) for code in codes],
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient(headers=auth.OPERATOR, timeout=60) as http:
        created = await http.post(
            f"{a}/meetings",
            json={
                "slug": "knub-rush",
                "network_slug": "knub",
                "year": 2021,
                "title": "Netværksmøde",
                "starts_at": "2021-12-08T09:30:00",
                "ends_at": "2021-12-08T15:30:00",
                "venue_name": "KL-huset",
                "venue_address": "Weidekampsgade 10, 2300 København S",
                "seats": 50,
                "registration_deadline": "2021-12-03T12:00:00",
            },
        )
        assert created.status_code == 201, created.text

        async def register(n: int) -> httpx.Response:
            return await http.post(
                f"{(a, b)[n % 2]}/meetings/meeting-knub-rush/registrations",
                json={
                    "name": f"Deltager {n}",
                    "email": f"d{n}@kommune.dk",
                    "job_title": "Konsulent",
                    "municipality_code": codes[n % len(codes)],
                },
            )

        responses = await asyncio.gather(*(register(n) for n in range(200)))
        assert Counter(r.status_code for r in responses) == {201: 50, 202: 150}
        positions = sorted(r.json()["waiting_position"] for r in responses if r.status_code == 202)
        assert positions == list(range(1, 151))
        for url in (a, b):
            meeting = (await http.get(f"{url}/meetings/meeting-knub-rush")).json()
            assert (meeting["seats_taken"], meeting["waiting"]) == (50, 150)

        # A municipality the view does not know: the view is caught up with the (empty)
        # membership topic, so it answers alone; the membership service, down, is not needed.
        unknown = await http.post(
            f"{b}/meetings/meeting-knub-rush/registrations",
            json={
                "name": "Ny",
                "email": "ny@kommune.dk",
                "job_title": "Konsulent",
                "municipality_code": "851",
            },
        )
        assert unknown.status_code == 403
        assert unknown.json()["type"] == "urn:kl:problem:not-a-member"
