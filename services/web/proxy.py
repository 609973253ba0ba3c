"""A small streaming reverse proxy from ``/api/<service>/...`` to the services' HTTP APIs.

The pages talk to the services only through it, so the browser sees one origin. Responses
stream through untouched (Server-Sent Events included), with the services' status codes and
problem+json bodies. A service that does not answer becomes a 503 problem+json with a Danish
message the page can show, never an empty answer.
"""

from __future__ import annotations

import posixpath
import weakref
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import anyio
import httpx
import structlog
from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from services.kernel.http import problem_response
from services.kernel.stream_limits import StreamLimiter, StreamSlot

log = structlog.get_logger(__name__)

REQUEST_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "x-correlation-id",
    "last-event-id",
)
"""What the browser's request may carry on to a service; everything else stays behind."""

RESPONSE_HEADERS = (
    "content-type",
    "cache-control",
    "retry-after",
    "x-correlation-id",
    "idempotent-replayed",
    "x-accel-buffering",
    "www-authenticate",
    "link",
)
"""What a service's answer may carry back; hop-by-hop and length headers are not passed on."""

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

NOT_PROXIED = frozenset({"metrics"})
"""Service paths the pages never need and the public must not reach through the web app:
``/metrics`` is for the cluster's Prometheus, which scrapes the services directly."""


def _not_proxied(path: str) -> bool:
    """``path`` (as the route got it) names a path of :data:`NOT_PROXIED`, however written
    (``metrics/``, ``./metrics``, ``a/../Metrics``)."""
    return posixpath.normpath("/" + path).strip("/").lower() in NOT_PROXIED


@dataclass(frozen=True)
class Upstream:
    """One service behind the proxy: its base URL and its Danish name for messages."""

    base_url: str
    name_da: str


def is_stream(path: str, request: Request) -> bool:
    """A request for a live stream (Server-Sent Events): it asks for ``text/event-stream``
    or names a ``.../stream`` path, whatever it asks for (so a client cannot pass a stream
    off as an ordinary call and hold an ordinary connection with it)."""
    last = posixpath.normpath("/" + path).rsplit("/", 1)[-1].lower()
    return last == "stream" or "text/event-stream" in request.headers.get("accept", "")


class ServiceProxy:
    """Forwards a request to a named upstream and streams its answer back.

    Live streams go through their own client (``stream_client``, a pool of
    ``limiter.max_streams`` connections) and take a slot of ``limiter`` (per process and
    per client address, 503/429 when full): open streams hold their connections for as
    long as they last, and must never take the connections the pages' other calls need.
    """

    def __init__(
        self,
        upstreams: Mapping[str, Upstream],
        client: httpx.AsyncClient,
        *,
        stream_client: httpx.AsyncClient | None = None,
        limiter: StreamLimiter | None = None,
    ) -> None:
        self.upstreams = dict(upstreams)
        self.client = client
        self.stream_client = stream_client or client
        self.limiter = limiter or StreamLimiter(100, 10)

    async def forward(self, service: str, path: str, request: Request) -> Response:
        """The upstream's answer to the same method, path, query and body."""
        upstream = self.upstreams.get(service)
        if upstream is None:
            return problem_response(
                404,
                "unknown-service",
                "Ukendt tjeneste",
                f"Der findes ingen tjeneste '{service}' bag /api/.",
                f"There is no service '{service}' behind /api/.",
            )
        if _not_proxied(path):
            return problem_response(
                404,
                "not-proxied",
                "Findes ikke her",
                f"{upstream.name_da} viser ikke /{path.strip('/')} gennem web-appen.",
                f"The {service} service's /{path.strip('/')} is not served through the web app.",
            )
        slot: StreamSlot | None = None
        client = self.client
        if is_stream(path, request):
            slot = self.limiter.admit(request.client.host if request.client else "unknown")
            client = self.stream_client
        try:
            answer = await self._send(client, service, upstream, path, request)
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        if not isinstance(answer, httpx.Response):
            if slot is not None:
                slot.release()
            return answer
        passed = {k: v for k, v in answer.headers.items() if k.lower() in RESPONSE_HEADERS}
        body = _relay(answer, slot)
        if slot is not None:
            weakref.finalize(body, slot.release)  # a stream never started gives it back too
        return StreamingResponse(body, status_code=answer.status_code, headers=passed)

    async def _send(
        self,
        client: httpx.AsyncClient,
        service: str,
        upstream: Upstream,
        path: str,
        request: Request,
    ) -> httpx.Response | Response:
        """The upstream's answer (streaming), or a problem answer when it gave none."""
        headers = {k: v for k, v in request.headers.items() if k.lower() in REQUEST_HEADERS}
        # Ask for no compression: the bytes then pass through as they arrive (SSE included).
        headers["accept-encoding"] = "identity"
        outgoing = client.build_request(
            request.method,
            f"{upstream.base_url.rstrip('/')}/{path}",
            params=request.url.query,
            headers=headers,
            content=await request.body(),
        )
        try:
            return await client.send(outgoing, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Nothing reached the service, so nothing can have been saved.
            log.warning("service unreachable", service=service, error=type(exc).__name__)
            return problem_response(
                503,
                "service-unavailable",
                "Tjenesten svarer ikke",
                f"{upstream.name_da} svarer ikke lige nu. Intet er gemt. Prøv igen om lidt.",
                f"The {service} service is not answering right now. Nothing was saved. "
                "Try again shortly.",
                headers={"Retry-After": "5"},
                service=service,
            )
        except (httpx.TimeoutException, httpx.RemoteProtocolError) as exc:
            # The request may have reached the service: the person must check, not retry blindly.
            log.warning("service too slow", service=service, error=type(exc).__name__)
            return problem_response(
                504 if isinstance(exc, httpx.TimeoutException) else 502,
                "service-timeout",
                "Tjenesten svarede ikke i tide",
                f"{upstream.name_da} svarede ikke i tide. Tjek om handlingen blev gennemført, "
                "før du prøver igen.",
                f"The {service} service did not answer in time. Check whether the action "
                "went through before trying again.",
                service=service,
            )


async def _relay(answer: httpx.Response, slot: StreamSlot | None) -> AsyncIterator[bytes]:
    """The upstream's bytes as they come; the upstream connection closes, and the stream's
    slot is given back, whatever happens."""
    try:
        # Decoded bytes: content-encoding is not passed on, so the browser gets plain bytes.
        async for chunk in answer.aiter_bytes():
            yield chunk
    except httpx.HTTPError as exc:
        # A stream cut mid-way (the service stopped): the browser sees the stream end.
        log.warning("upstream stream broken", error=type(exc).__name__)
    finally:
        if slot is not None:
            slot.release()
        with anyio.CancelScope(shield=True):
            await answer.aclose()
