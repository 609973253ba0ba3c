"""Errors a person can act on, and the correlation id, on any service's HTTP edge."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field

from services.kernel.http import (
    BodySizeLimitMiddleware,
    CorrelationMiddleware,
    ProblemError,
    install_problem_handlers,
)
from services.kernel.logging import current_correlation_id


class Body(BaseModel):
    year: int = Field(ge=2020)


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=1000)
    app.add_middleware(CorrelationMiddleware)

    @app.post("/things")
    async def create(body: Body) -> dict[str, str | None]:
        if body.year == 2020:
            raise ProblemError(409, "too-old", "For gammelt", "Året er forbi.", "The year is over.")
        return {"correlation_id": current_correlation_id()}

    @app.get("/db-down")
    async def db_down() -> None:
        raise ConnectionRefusedError("connection refused")

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("secret internals")

    return app


def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_domain_problem_is_problem_json_in_danish_with_english_beside() -> None:
    async with client() as c:
        r = await c.post("/things", json={"year": 2020})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "urn:kl:problem:too-old",
        "title": "For gammelt",
        "status": 409,
        "detail": "Året er forbi.",
        "detail_en": "The year is over.",
    }


async def test_invalid_fields_are_named() -> None:
    async with client() as c:
        r = await c.post("/things", json={"year": 1999})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "year"
    assert "year" in r.json()["detail"]


async def test_an_unreachable_database_is_503_with_retry_after_not_a_stack_trace() -> None:
    async with client() as c:
        r = await c.get("/db-down")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    assert "Traceback" not in r.text


async def test_an_unexpected_error_leaks_nothing() -> None:
    async with client() as c:
        r = await c.get("/bug")
    assert r.status_code == 500
    assert "secret internals" not in r.text


async def test_an_oversized_body_is_refused_before_it_is_read() -> None:
    async with client() as c:
        r = await c.post(
            "/things", content=b"x" * 5000, headers={"content-type": "application/json"}
        )
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"


async def test_the_correlation_id_is_taken_from_the_request_and_echoed() -> None:
    async with client() as c:
        r = await c.post("/things", json={"year": 2022}, headers={"X-Correlation-ID": "abc-123"})
        fresh = await c.post("/things", json={"year": 2022})
    assert r.json() == {"correlation_id": "abc-123"}
    assert r.headers["x-correlation-id"] == "abc-123"
    assert fresh.headers["x-correlation-id"] == fresh.json()["correlation_id"]
    assert len(fresh.headers["x-correlation-id"]) == 36


async def test_an_outage_is_answered_without_re_raising_into_the_server_log() -> None:
    """Starlette re-raises what only the catch-all handler answered (a traceback per 503)."""
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        r = await c.get("/db-down")
    assert r.status_code == 503
