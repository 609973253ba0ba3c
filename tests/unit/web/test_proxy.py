"""The web app's proxy: the services' answers pass through as they are; silence becomes a
Danish 503 the pages can show."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from services.kernel.clock import ManualClock
from services.web.app import create_app
from services.web.config import Settings

SETTINGS = Settings(
    membership_url="http://membership.test",
    events_url="http://events.test",
    notifications_url="http://notifications.test",
)


def fake_services(request: httpx.Request) -> httpx.Response:
    """Stands in for the three services; the events service is down."""
    if request.url.host == "events.test":
        raise httpx.ConnectError("connection refused", request=request)
    if request.url.path == "/networks/knub/memberships":
        return httpx.Response(
            422,
            json={
                "type": "urn:kl:problem:invalid-ean",
                "title": "Ugyldigt EAN-nummer",
                "status": 422,
                "detail": "EAN-nummeret '1' er ikke gyldigt.",
                "seen": {
                    "body": request.content.decode(),
                    "key": request.headers.get("idempotency-key"),
                    "cookie": request.headers.get("cookie"),
                    "authorization": request.headers.get("authorization"),
                },
            },
            headers={"content-type": "application/problem+json", "retry-after": "3"},
        )
    if request.url.path == "/municipalities/751/registrations":
        return httpx.Response(200, json=[], headers={"link": '<?limit=1&cursor=abc>; rel="next"'})
    return httpx.Response(200, json={"path": request.url.path, "query": request.url.query.decode()})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        SETTINGS,
        clock=ManualClock(datetime(2021, 11, 19, 8, tzinfo=UTC)),
        transport=httpx.MockTransport(fake_services),
    )
    # ASGITransport does not run the lifespan, which opens the proxy's client.
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as http:
            yield http


async def test_a_refusal_passes_through_with_its_status_type_and_body(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/api/membership/networks/knub/memberships",
        json={"ean": "1"},
        headers={
            "Idempotency-Key": "k-1",
            "Cookie": "session=secret",
            "Authorization": "Bearer a.b.c",
        },
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "3"
    body = r.json()
    assert body["type"] == "urn:kl:problem:invalid-ean"
    # The bearer token goes on to the service (it decides); cookies stay behind.
    assert body["seen"] == {
        "body": '{"ean":"1"}',
        "key": "k-1",
        "cookie": None,
        "authorization": "Bearer a.b.c",
    }


async def test_path_and_query_reach_the_service_unchanged(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/notifications/deliveries?status=failed&limit=5")
    assert r.json() == {"path": "/deliveries", "query": "status=failed&limit=5"}


async def test_a_service_that_does_not_answer_gives_a_danish_503(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/events/meetings/knub-2021-3")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["title"] == "Tjenesten svarer ikke"
    assert body["detail"].startswith("Møde- og tilmeldingstjenesten svarer ikke lige nu.")
    assert body["service"] == "events"


async def test_an_unknown_service_is_a_404_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/billing/invoices")
    assert r.status_code == 404
    assert r.json()["type"] == "urn:kl:problem:unknown-service"


@pytest.mark.parametrize(
    "path",
    [
        "/api/membership/metrics",
        "/api/notifications/metrics/",
        "/api/membership/./metrics",
        "/api/notifications/deliveries/../Metrics",
    ],
)
async def test_a_service_s_metrics_are_not_served_through_the_web_app(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "urn:kl:problem:not-proxied"
    assert "path" not in r.json(), "the request never reached the service"


async def test_a_list_s_link_to_its_next_page_reaches_the_page(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/api/notifications/municipalities/751/registrations")
    assert r.headers["link"] == '<?limit=1&cursor=abc>; rel="next"'


async def test_the_pages_see_the_configured_today(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/context")).json() == {
        "now": "2021-11-19T08:00:00+00:00",
        "year": 2021,
        "dev_signin": True,
    }


async def test_the_development_sign_in_is_served_only_on_loopback() -> None:
    wide = SETTINGS.model_copy(update={"host": "0.0.0.0", "issuer_url": "http://127.0.0.1:9400"})
    asked: list[str] = []

    def issuer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, json={"access_token": "a.b.c"})

    app = create_app(
        wide,
        clock=ManualClock(datetime(2021, 11, 19, 8, tzinfo=UTC)),
        transport=httpx.MockTransport(issuer),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as http:
            assert (await http.get("/api/context")).json()["dev_signin"] is False
            r = await http.post("/api/dev-signin", json={"role": "operator"})
    assert r.status_code == 404
    assert r.json()["type"] == "urn:kl:problem:no-dev-signin"
    assert asked == [], "the issuer was never asked"


@pytest.mark.parametrize("path", ["/", "/moeder/knub-2021-3", "/kommuner/751", "/drift"])
async def test_every_page_is_danish_html(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="da">' in r.text
