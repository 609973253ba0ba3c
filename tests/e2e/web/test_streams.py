"""Live streams through the web app: they have a pool of their own and caps, so 150 open
streams leave the pages' other calls answering, and a client over its cap gets a clear
answer (429 per address, 503 when the process is full)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack

import httpx
import pytest

from services.operator.processes import ServiceProcess
from tests.e2e.web.conftest import AS_OF, Stack, run_async
from tests.support.ports import free_port
from tests.support.waiting import wait_until

STREAMS = 150


def web_process(stack: Stack, **caps: int) -> ServiceProcess:
    env = {
        "WEB_MEMBERSHIP_URL": stack.membership.url,
        "WEB_EVENTS_URL": stack.events.url,
        "WEB_NOTIFICATIONS_URL": stack.notifications.url,
        "WEB_CLOCK_AS_OF": AS_OF,
        "WEB_ISSUER_URL": "",
        **{f"WEB_{name.upper()}": str(value) for name, value in caps.items()},
    }
    return ServiceProcess("web", free_port(), env)


def running(process: ServiceProcess) -> Iterator[str]:
    process.start()
    try:
        process.wait_ready(timeout=60)
        yield process.url
    finally:
        process.stop()


@pytest.fixture(scope="module")
def roomy_web(stack: Stack) -> Iterator[str]:
    """A web process that lets one address hold all 150 streams (the test's client is one
    address), so the streams are really open."""
    yield from running(web_process(stack, max_streams=200, max_streams_per_client=200))


@pytest.fixture(scope="module")
def tight_web(stack: Stack) -> Iterator[str]:
    yield from running(web_process(stack, max_streams=5, max_streams_per_client=3))


async def first_event(response: httpx.Response) -> bool:
    async for line in response.aiter_lines():
        if line.startswith("event: availability"):
            return True
    return False


def test_150_open_streams_leave_the_pages_other_calls_answering(
    stack: Stack, roomy_web: str
) -> None:
    meeting_id = stack.schedule(seats=20)
    stream = f"/api/events/meetings/{meeting_id}/availability/stream"
    calls = [
        "/",
        f"/moeder/{meeting_id}",
        f"/api/events/meetings/{meeting_id}",
        f"/api/events/meetings/{meeting_id}/availability",
        "/api/events/meetings",
        "/api/membership/networks",
        "/api/membership/municipalities",
    ]

    async def scenario() -> list[int]:
        limits = httpx.Limits(max_connections=STREAMS + 20)
        async with (
            httpx.AsyncClient(base_url=roomy_web, timeout=30, limits=limits) as http,
            AsyncExitStack() as open_streams,
        ):
            responses = []
            for _ in range(STREAMS):
                responses.append(await open_streams.enter_async_context(http.stream("GET", stream)))
            assert {r.status_code for r in responses} == {200}
            async with asyncio.timeout(60):
                firsts = await asyncio.gather(*(first_event(r) for r in responses))
            assert all(firsts), "every stream is live"
            async with httpx.AsyncClient(base_url=roomy_web, timeout=10) as page:
                return [(await page.get(path)).status_code for path in calls]

    assert run_async(scenario()) == [200] * len(calls)

    async def streams_given_back() -> bool:
        async with httpx.AsyncClient(base_url=roomy_web, timeout=10) as http:
            ok = await http.get(f"/api/events/meetings/{meeting_id}/availability")
            return ok.status_code == 200

    run_async(wait_until(streams_given_back, what="the web app answers afterwards"))


def client_at(address: str, base_url: str) -> httpx.AsyncClient:
    """A client whose connections come from ``address`` (another loopback address)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, timeout=30, transport=transport)


def test_over_its_cap_an_address_gets_429_and_a_full_process_503(
    stack: Stack, tight_web: str
) -> None:
    meeting_id = stack.schedule(seats=20)
    stream = f"/api/events/meetings/{meeting_id}/availability/stream"

    async def scenario() -> None:
        async with (
            client_at("127.0.0.1", tight_web) as one,
            client_at("127.0.0.2", tight_web) as two,
            client_at("127.0.0.3", tight_web) as three,
            AsyncExitStack() as open_streams,
        ):
            mine = [
                await open_streams.enter_async_context(one.stream("GET", stream)) for _ in range(3)
            ]
            assert [r.status_code for r in mine] == [200, 200, 200]
            over = await one.get(stream)
            assert over.status_code == 429
            assert over.headers["content-type"] == "application/problem+json"
            assert int(over.headers["retry-after"]) > 0
            assert over.json()["type"] == "urn:kl:problem:too-many-streams"
            assert "faner" in over.json()["detail"]
            theirs = [
                await open_streams.enter_async_context(two.stream("GET", stream)) for _ in range(2)
            ]
            assert [r.status_code for r in theirs] == [200, 200]
            full = await three.get(stream)
            assert full.status_code == 503
            assert full.json()["type"] == "urn:kl:problem:streams-full"
            assert int(full.headers["retry-after"]) > 0
            page = await three.get(f"/api/events/meetings/{meeting_id}")
            assert page.status_code == 200, "only streams are capped"

    run_async(scenario())
