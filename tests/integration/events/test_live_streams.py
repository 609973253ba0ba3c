"""Live availability streams: one read of the meeting per interval for all its listeners,
whatever interval a client asks for, and a cap per client address (429, Retry-After)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from services.events.bootstrap import EventsService
from services.events.config import Settings
from tests.integration.events.conftest import add_members, meeting_body, person
from tests.support.serving import serving
from tests.support.waiting import wait_until

LISTENERS = 30


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"sse_interval_s": 0.5, "sse_max_streams_per_client": LISTENERS}
    )


@pytest.fixture
async def server(service: EventsService) -> AsyncIterator[str]:
    async with serving(service.app) as url:
        yield url


def polls(metrics: str) -> float:
    match = re.search(r'^shared_polls_total\{name="availability"\} ([0-9.e+]+)$', metrics, re.M)
    assert match, "the availability poll is counted"
    return float(match.group(1))


class Listener:
    """One open stream and the ``taken`` counts it received."""

    def __init__(self, response: httpx.Response) -> None:
        self.taken: list[int] = []
        self.task = asyncio.create_task(self._read(response))

    async def _read(self, response: httpx.Response) -> None:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                self.taken.append(json.loads(line.removeprefix("data:"))["taken"])


async def test_thirty_listeners_share_one_poll_and_the_thirty_first_gets_429(
    server: str, client: httpx.AsyncClient, service: EventsService
) -> None:
    meeting = (await client.post("/meetings", json=meeting_body(seats=10))).json()["meeting_id"]
    await add_members(service.runtime.pool, 2021, "101")

    async def projected() -> bool:
        return (await client.get(f"/meetings/{meeting}/availability")).status_code == 200

    await wait_until(projected, timeout=30, what="meeting projected")
    url = f"/meetings/{meeting}/availability/stream?interval=0.05"  # asks for 20 reads/s
    limits = httpx.Limits(max_connections=LISTENERS + 5)
    async with (
        httpx.AsyncClient(base_url=server, timeout=30, limits=limits) as http,
        AsyncExitStack() as streams,
    ):
        listeners = [
            Listener(await streams.enter_async_context(http.stream("GET", url)))
            for _ in range(LISTENERS)
        ]

        async def everyone_saw(taken: int) -> bool:
            return all(ln.taken and ln.taken[-1] == taken for ln in listeners)

        await wait_until(lambda: everyone_saw(0), timeout=30, what="every listener's first event")
        async with asyncio.timeout(10):  # a stream that is not refused never ends
            refused = await http.get(url)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"]
        assert refused.json()["type"] == "urn:kl:problem:too-many-streams"

        before, started = polls((await client.get("/metrics")).text), time.monotonic()
        registered = await client.post(f"/meetings/{meeting}/registrations", json=person(1))
        assert registered.status_code == 201
        await wait_until(lambda: everyone_saw(1), timeout=30, what="every listener sees 1")
        elapsed = time.monotonic() - started
        made = polls((await client.get("/metrics")).text) - before
        # One read per interval for all thirty (the client's 0.05 s is ignored), where
        # thirty listeners polling on their own at 0.05 s would make 600 reads a second.
        assert made <= elapsed / 0.5 + 2, (made, elapsed)
        for listener in listeners:
            listener.task.cancel()
        await asyncio.gather(*(ln.task for ln in listeners), return_exceptions=True)

    async def every_slot_given_back() -> bool:
        async with (
            httpx.AsyncClient(base_url=server, timeout=10, limits=limits) as http,
            AsyncExitStack() as again,
        ):
            opened = [
                await again.enter_async_context(http.stream("GET", url)) for _ in range(LISTENERS)
            ]
            return all(r.status_code == 200 for r in opened)

    await wait_until(every_slot_given_back, what="the closed streams' slots given back")
