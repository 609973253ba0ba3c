"""Request bodies over the limit are refused with 413 problem+json, however they arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request
from pydantic import BaseModel

from services.kernel.http import BodySizeLimitMiddleware, install_problem_handlers

LIMIT = 1000


class Note(BaseModel):
    text: str


def make_app() -> tuple[FastAPI, list[int]]:
    """An app with a parsed JSON body and a raw streaming route; records bodies it accepted."""
    accepted: list[int] = []
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=LIMIT)

    @app.post("/notes")
    async def create(note: Note) -> dict[str, int]:
        accepted.append(len(note.text))
        return {"length": len(note.text)}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        accepted.append(size)
        return {"length": size}

    return app, accepted


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def chunks(total: int, size: int = 100) -> AsyncIterator[bytes]:
    """A JSON body of ``total`` bytes sent in pieces, without a Content-Length."""
    body = b'{"text": "' + b"x" * (total - 12) + b'"}'
    assert len(body) == total
    for start in range(0, total, size):
        yield body[start : start + size]


def assert_refused_as_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:kl:problem:body-too-large"
    assert str(LIMIT) in problem["detail"]
    assert str(LIMIT) in problem["detail_en"]


async def test_a_declared_content_length_over_the_limit_is_refused_before_reading() -> None:
    app, accepted = make_app()
    async with client(app) as c:
        r = await c.post("/notes", json={"text": "x" * 2000})
    assert_refused_as_too_large(r)
    assert accepted == []


async def test_a_chunked_body_without_content_length_is_cut_off_at_the_limit() -> None:
    app, accepted = make_app()
    async with client(app) as c:
        r = await c.post(
            "/notes", content=chunks(5000), headers={"content-type": "application/json"}
        )
    assert "content-length" not in r.request.headers
    assert_refused_as_too_large(r)
    assert accepted == []


async def test_a_route_streaming_the_raw_body_is_cut_off_at_the_limit_too() -> None:
    app, accepted = make_app()
    async with client(app) as c:
        r = await c.post("/raw", content=chunks(5000))
    assert_refused_as_too_large(r)
    assert accepted == []


async def test_a_chunked_body_within_the_limit_is_read_whole() -> None:
    app, accepted = make_app()
    async with client(app) as c:
        r = await c.post(
            "/notes", content=chunks(LIMIT), headers={"content-type": "application/json"}
        )
        raw = await c.post("/raw", content=chunks(LIMIT))
    assert r.status_code == 200, r.text
    assert raw.json() == {"length": LIMIT}
    assert accepted == [LIMIT - 12, LIMIT]


async def test_a_body_exactly_at_the_limit_with_content_length_passes() -> None:
    app, accepted = make_app()
    async with client(app) as c:
        r = await c.post(
            "/notes",
            content=b'{"text": "' + b"y" * (LIMIT - 12) + b'"}',
            headers={"content-type": "application/json"},
        )
    assert r.request.headers["content-length"] == str(LIMIT)
    assert r.status_code == 200, r.text
    assert accepted == [LIMIT - 12]
