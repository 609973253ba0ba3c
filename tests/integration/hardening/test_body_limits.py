"""Every service refuses a request body over 64 KiB with 413 problem+json, and writes nothing.

The body may declare its size (Content-Length) or arrive in chunks without one; either way
the service stops reading at the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from services.web.app import create_app as create_web_app
from services.web.config import Settings as WebSettings
from tests.integration.hardening.conftest import JOIN, MEETING, PARTICIPANT, Api, schedule_meeting

LIMIT = 64 * 1024


def oversized(body: dict[str, Any], field: str) -> bytes:
    """``body`` with ``field`` padded until the JSON is just over the limit."""
    padded = {**body, field: "x" * (LIMIT + 100)}
    return orjson.dumps(padded)


async def in_chunks(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:kl:problem:body-too-large"
    assert problem["detail"] == f"Forespørgslen må højst fylde {LIMIT} bytes."
    assert problem["detail_en"] == f"The request body may be at most {LIMIT} bytes."


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_membership_refuses_an_oversized_join_and_records_nothing(
    membership: Api, chunked: bool
) -> None:
    data = oversized(JOIN, "contact_name")
    content: bytes | AsyncIterator[bytes] = in_chunks(data) if chunked else data

    r = await membership.client.post("/networks/knub/memberships", content=content, headers=JSON)

    assert_too_large(r)
    roster = await membership.client.get("/networks/knub/memberships/2022/101")
    assert roster.status_code == 404


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_events_refuses_an_oversized_registration_and_records_nothing(
    events: Api, chunked: bool
) -> None:
    meeting_id = await schedule_meeting(events)
    data = oversized(PARTICIPANT, "note")
    content: bytes | AsyncIterator[bytes] = in_chunks(data) if chunked else data

    r = await events.client.post(
        f"/meetings/{meeting_id}/registrations", content=content, headers=JSON
    )

    assert_too_large(r)
    participants = await events.client.get(f"/meetings/{meeting_id}/registrations")
    assert participants.json() == []
    meeting = await events.client.get(f"/meetings/{meeting_id}")
    assert meeting.json()["seats_taken"] == 0


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_events_refuses_an_oversized_meeting(events: Api, chunked: bool) -> None:
    data = oversized(MEETING, "description")
    content: bytes | AsyncIterator[bytes] = in_chunks(data) if chunked else data

    r = await events.client.post("/meetings", content=content, headers=JSON)

    assert_too_large(r)
    assert (await events.client.get(f"/meetings/{MEETING['slug']}")).status_code == 404


async def test_notifications_refuses_a_declared_oversized_body_on_any_route(
    notifications: Api,
) -> None:
    r = await notifications.client.post("/deliveries", content=b"x" * (LIMIT + 1), headers=JSON)

    # Refused for its size before routing, though no route of the service takes a body (so a
    # chunked body is never read at all: it gets the route's 405).
    assert_too_large(r)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_web_refuses_an_oversized_body_and_forwards_nothing(chunked: bool) -> None:
    forwarded: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        forwarded.append(request)
        return httpx.Response(201, json={"ok": True})

    app = create_web_app(WebSettings(), transport=httpx.MockTransport(upstream))
    data = oversized(PARTICIPANT, "note")
    content: bytes | AsyncIterator[bytes] = in_chunks(data) if chunked else data
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),  # ASGITransport runs no lifespan
        httpx.AsyncClient(transport=transport, base_url="http://web.test") as client,
    ):
        small = await client.post(
            "/api/events/meetings/knub-2021-3/registrations", json=PARTICIPANT
        )
        r = await client.post(
            "/api/events/meetings/knub-2021-3/registrations", content=content, headers=JSON
        )

    assert small.status_code == 201  # the proxy does forward a body within the limit
    assert_too_large(r)
    assert len(forwarded) == 1
