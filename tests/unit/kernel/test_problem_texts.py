"""The framework's own errors read like ours: Danish detail, English beside; outages are 503."""

from __future__ import annotations

import httpx
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI
from pydantic import BaseModel

from services.kernel.http import install_problem_handlers


class Body(BaseModel):
    year: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, int]:
        return {"year": body.year}

    @app.get("/kafka-down")
    async def kafka_down() -> None:
        raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 19092)]")

    return app


def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_body_that_is_not_utf8_is_a_400_in_danish_and_english() -> None:
    async with client() as c:
        r = await c.post(
            "/things", content=b'{"year": "\xff\xfe"}', headers={"content-type": "application/json"}
        )
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"].startswith("Forespørgslens indhold kunne ikke læses")
    assert r.json()["detail_en"] == "There was an error parsing the body"


async def test_an_unknown_address_and_a_wrong_method_are_explained_in_danish() -> None:
    async with client() as c:
        missing = await c.get("/nothing-here")
        wrong = await c.delete("/things")
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("Adressen findes ikke")
    assert missing.json()["detail_en"] == "Not Found"
    assert wrong.status_code == 405
    assert wrong.json()["detail"].startswith("Adressen findes, men ikke med denne metode")


async def test_kafka_out_of_reach_is_503_with_retry_after_not_a_500() -> None:
    async with client() as c:
        r = await c.get("/kafka-down")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    assert "19092" not in r.text
