"""The web front end's app: the pages, their static files, and the proxy to the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import httpx
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from services.kernel.auth import is_loopback_host
from services.kernel.clock import Clock, clock_from_setting
from services.kernel.health import install_health
from services.kernel.http import (
    NO_OTEL,
    BodySizeLimitMiddleware,
    CleanText,
    CorrelationMiddleware,
    install_problem_handlers,
    problem_response,
)
from services.kernel.stream_limits import StreamLimiter
from services.web.config import Settings
from services.web.pages import load as load_pages
from services.web.proxy import METHODS, ServiceProxy, Upstream

STATIC = Path(__file__).parent / "static"
log = structlog.get_logger(__name__)


class DevSignIn(BaseModel):
    """Who to be in the development sign-in."""

    role: Literal["operator", "coordinator", "participant"]
    municipality_code: str | None = Field(default=None, pattern=r"^\d{3}$")
    email: CleanText | None = Field(default=None, max_length=320)


def upstreams(settings: Settings) -> dict[str, Upstream]:
    """The services behind ``/api/<name>/``, with the names the pages use for them."""
    return {
        "membership": Upstream(settings.membership_url, "Medlemstjenesten"),
        "events": Upstream(settings.events_url, "Møde- og tilmeldingstjenesten"),
        "notifications": Upstream(settings.notifications_url, "Notifikationstjenesten"),
    }


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The app; ``transport`` lets tests put the services in-process (httpx's ASGITransport)."""
    the_clock = clock or clock_from_setting(settings.clock_as_of)
    timeout = httpx.Timeout(
        settings.read_timeout_s, connect=settings.connect_timeout_s, pool=settings.connect_timeout_s
    )
    state: dict[str, ServiceProxy] = {}

    # Streams get a pool of their own, as large as their cap: an open stream holds its
    # connection, and the pages' other calls must never wait behind streams for one.
    stream_limits = httpx.Limits(max_connections=settings.max_streams, max_keepalive_connections=20)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with (
            httpx.AsyncClient(timeout=timeout, transport=transport) as client,
            httpx.AsyncClient(
                timeout=timeout, transport=transport, limits=stream_limits
            ) as stream_client,
        ):
            state["proxy"] = ServiceProxy(
                upstreams(settings),
                client,
                stream_client=stream_client,
                limiter=StreamLimiter(settings.max_streams, settings.max_streams_per_client),
            )
            yield
            state.clear()

    app = FastAPI(
        title="KL netværk: web",
        version="1.0.0",
        description="Sider på dansk for møder, kommuner og drift, over tjenesternes HTTP-API'er.",
        lifespan=lifespan,
        telemetry=NO_OTEL,
    )
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(CorrelationMiddleware)
    install_problem_handlers(app)
    install_health(app, [])

    # The development sign-in gives a token for any role to anyone who asks: served only
    # while the web app listens on loopback, whatever WEB_ISSUER_URL says.
    dev_issuer = (settings.issuer_url or "").rstrip("/") or None
    if dev_issuer is not None and not is_loopback_host(settings.host):
        log.info("development sign-in off: the web app does not listen on loopback")
        dev_issuer = None

    @app.get("/api/context", tags=["web"], summary="Today as the pages should see it")
    async def context() -> dict[str, Any]:
        now = the_clock.now()
        return {"now": now.isoformat(), "year": now.year, "dev_signin": dev_issuer is not None}

    @app.post(
        "/api/dev-signin",
        tags=["web"],
        summary="Development sign-in: a token for a role from the development issuer",
        response_model=None,
    )
    async def dev_signin(body: DevSignIn) -> Response:
        if dev_issuer is None:
            return problem_response(
                404,
                "no-dev-signin",
                "Intet udviklings-login",
                "Denne installation har ikke udviklings-login.",
                "This installation has no development sign-in.",
            )
        try:
            answer = await state["proxy"].client.post(
                f"{dev_issuer}/token", json=body.model_dump(exclude_none=True)
            )
        except httpx.HTTPError:
            return problem_response(
                503,
                "issuer-unavailable",
                "Login-tjenesten svarer ikke",
                "Udviklingens login-tjeneste svarer ikke. Start den med deploy/local/stack.sh up.",
                "The development sign-in service does not answer.",
                headers={"Retry-After": "5"},
            )
        media = answer.headers.get("content-type", "application/json")
        return Response(answer.content, status_code=answer.status_code, media_type=media)

    async def proxy(service: str, path: str, request: Request) -> Response:
        return await state["proxy"].forward(service, path, request)

    # One route per method: each gets an operation id of its own (one route with five
    # methods shares one, taken from a set, and so differs from run to run).
    for method in METHODS:
        app.add_api_route(
            "/api/{service}/{path:path}",
            proxy,
            methods=[method],
            tags=["web"],
            summary="Proxy to a service's HTTP API (membership, events, notifications)",
            response_model=None,
        )

    pages = load_pages()

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return pages["index"].response()

    @app.get("/moeder/{meeting_id}", include_in_schema=False)
    async def meeting_page(meeting_id: str) -> Response:
        # The page reads the id from its address and shows a Danish message if it is unknown.
        return pages["moede"].response()

    @app.get("/kommuner/{code}", include_in_schema=False)
    async def municipality_page(code: str) -> Response:
        return pages["kommune"].response()

    @app.get("/drift", include_in_schema=False)
    async def dashboard() -> Response:
        return pages["drift"].response()

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
