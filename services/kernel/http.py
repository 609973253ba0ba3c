"""HTTP pieces every service uses: problem+json errors, correlation ids, health, metrics.

Errors follow RFC 9457 (``application/problem+json``). A problem's ``detail`` is Danish
first; ``detail_en`` carries the English text beside it. Database or Kafka outages become
503 with ``Retry-After``, never a stack trace.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, cast

import asyncpg
import structlog
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from prometheus_client import Histogram
from pydantic import AfterValidator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kernel.idempotency import IdempotencyKeyInvalidError, IdempotencyKeyReusedError
from services.kernel.logging import correlation
from services.kernel.principal import NotAllowedError
from services.kernel.refusals import Refused

log = structlog.get_logger(__name__)

NO_OTEL: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""``FastAPI(telemetry=NO_OTEL)``: FastAPI's native OpenTelemetry off. The services export
Prometheus metrics (``HTTP_LATENCY``) and log with correlation ids; left on, FastAPI asks
OpenTelemetry for its providers, reading the environment, on every request (≈ 5 % of the
events API's CPU in the rush)."""

PROBLEM_JSON = "application/problem+json"
CORRELATION_HEADER = "X-Correlation-ID"

HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def no_control_characters(value: str) -> str:
    """Refuse NUL, other control characters and lone surrogates in a text field.

    PostgreSQL cannot store NUL in text or JSONB, and no name, title or note needs a control
    character; tab and line breaks are text and pass.
    """
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters such as NUL")
    return value


CleanText = Annotated[str, AfterValidator(no_control_characters)]
"""A ``str`` field of a request that refuses control characters (422, never a 500)."""


def from_app_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency: what the app holds as ``app.state.<name>`` (``create_app`` puts the
    service's parts there; a route takes them as ``Annotated[..., Depends(...)]``).

    ``async`` on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, a
    thread hand-off per request on the hot path (a rush spent a third more CPU on it)."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    return dependency


class ProblemError(Exception):
    """An error a person can act on, rendered as problem+json.

    ``type_`` is a short slug (``urn:kl:problem:<slug>``), ``title`` a short Danish
    summary, ``detail`` the Danish explanation and ``detail_en`` the English one.
    """

    def __init__(
        self,
        status: int,
        type_: str,
        title: str,
        detail: str,
        detail_en: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail_en or detail)
        self.headers = headers
        self.status = status
        self.type_ = type_
        self.title = title
        self.detail = detail
        self.detail_en = detail_en
        self.extra = extra


def problem_response(
    status: int,
    type_: str,
    title: str,
    detail: str,
    detail_en: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:kl:problem:{type_}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if detail_en:
        body["detail_en"] = detail_en
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def refusal_response(exc: Refused, status: int, **extra: Any) -> JSONResponse:
    """The problem+json answer to an error that carries its own problem text."""
    retry_after = getattr(exc, "retry_after", None)
    return problem_response(
        status,
        exc.code,
        exc.title,
        exc.detail_da,
        exc.detail_en,
        headers={"Retry-After": retry_after} if retry_after else None,
        **{**getattr(exc, "extra", {}), **extra},
    )


def install_refusals(app: FastAPI, statuses: Mapping[type[Exception], int]) -> None:
    """Answer the errors of these classes, and of their subclasses, with the problem text
    each carries (:class:`~services.kernel.refusals.Refused`) and the status of its
    nearest class in ``statuses``: the HTTP edge decides the status, the error the words."""
    table = dict(statuses)

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        status = next(table[cls] for cls in type(exc).__mro__ if cls in table)
        return refusal_response(cast(Refused, exc), status)

    for cls in table:
        app.add_exception_handler(cls, refused)


KERNEL_REFUSALS: dict[type[Exception], int] = {
    NotAllowedError: 403,
    IdempotencyKeyInvalidError: 400,
    IdempotencyKeyReusedError: 422,
}


_UNAVAILABLE = (
    OSError,
    KafkaConnectionError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    # 57xxx: the server is shutting down, crashed, or not yet accepting (CannotConnectNow).
    asyncpg.OperatorInterventionError,
    # A pooled connection the server closed while idle (e.g. at its shutdown) can fail its
    # next use with "cannot switch to state ...": a broken connection, not a bug of ours.
    asyncpg.InternalClientError,
    asyncpg.TooManyConnectionsError,
    TimeoutError,
)


def is_unavailable(exc: BaseException) -> bool:
    """The database (or Kafka) is away: ``exc`` or an exception it arose from says so.

    The chain matters: when PostgreSQL stops under a query, the clean-up of the broken
    connection can fail in turn and hide the real cause.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _UNAVAILABLE):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


_DANISH_DETAILS = {
    "There was an error parsing the body": "Forespørgslens indhold kunne ikke læses. "
    "Send gyldig JSON i UTF-8.",
    "Not Found": "Adressen findes ikke. Se API'ets dokumentation på /docs.",
    "Method Not Allowed": "Adressen findes, men ikke med denne metode. Se /docs.",
}
"""Danish ``detail`` for the English texts of Starlette's and FastAPI's own HTTP errors."""


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error as problem+json."""
    install_refusals(app, KERNEL_REFUSALS)

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.type_,
            exc.title,
            exc.detail,
            exc.detail_en,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "message": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors if e["field"])
        return problem_response(
            422,
            "invalid-request",
            "Ugyldige oplysninger",
            f"Ret disse felter og prøv igen: {fields}." if fields else "Ret forespørgslen.",
            f"Fix these fields and try again: {fields}." if fields else "Fix the request.",
            errors=errors,
        )

    @app.exception_handler(BodyTooLargeError)
    async def _too_large(_: Request, exc: BodyTooLargeError) -> JSONResponse:
        return body_too_large_response(exc.max_bytes)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {
            400: "Ugyldig forespørgsel",
            404: "Ikke fundet",
            405: "Metoden er ikke tilladt",
            413: "For stor forespørgsel",
        }
        english = str(exc.detail)
        return problem_response(
            exc.status_code,
            "http-" + str(exc.status_code),
            titles.get(exc.status_code, "Fejl"),
            _DANISH_DETAILS.get(english, english),
            english,
            headers=dict(exc.headers or {}),
        )

    # The outage classes get their handler directly too: a handler for Exception runs in
    # Starlette's outermost middleware, which re-raises after answering, so every 503 would
    # also print a traceback to the log. A handler for a concrete class answers and is done.
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        return await _unexpected(request, exc)

    for unavailable in _UNAVAILABLE:
        app.add_exception_handler(unavailable, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        if is_unavailable(exc):
            log.warning("dependency unavailable", error=type(exc).__name__)
            return problem_response(
                503,
                "unavailable",
                "Tjenesten er midlertidigt utilgængelig",
                "Databasen eller Kafka svarer ikke lige nu. Prøv igen om lidt.",
                "The database or Kafka is not answering right now. Try again shortly.",
                headers={"Retry-After": "2"},
            )
        log.exception("unhandled error")
        return problem_response(
            500,
            "internal",
            "Intern fejl",
            "Der skete en uventet fejl. Intet er gemt. Prøv igen, eller kontakt KL.",
            "An unexpected error occurred. Nothing was saved.",
        )


class CorrelationMiddleware:
    """Bind ``X-Correlation-ID`` (or a new id) for the request, echo it, time the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-correlation-id":
                incoming = value.decode("latin-1")[:100]
                break
        started = time.perf_counter()
        status_holder = {"status": 500}
        with correlation(incoming) as cid:

            async def send_with_header(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_holder["status"] = message["status"]
                    headers = list(message.get("headers", []))
                    headers.append((b"x-correlation-id", cid.encode()))
                    message["headers"] = headers
                await send(message)

            try:
                await self.app(scope, receive, send_with_header)
            finally:
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")
                HTTP_LATENCY.labels(scope["method"], path, str(status_holder["status"])).observe(
                    time.perf_counter() - started
                )


class BodyTooLargeError(StarletteHTTPException):
    """A request body grew past the limit while it was read (413)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body may be at most {max_bytes} bytes.")
        self.max_bytes = max_bytes


def body_too_large_response(max_bytes: int) -> JSONResponse:
    return problem_response(
        413,
        "body-too-large",
        "For stor forespørgsel",
        f"Forespørgslen må højst fylde {max_bytes} bytes.",
        f"The request body may be at most {max_bytes} bytes.",
    )


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, never reading more than that.

    A declared ``Content-Length`` over the limit is refused at once. A body without one
    (chunked) or with a false one is counted while the app reads it: past the limit the
    read raises :class:`BodyTooLargeError`, which the problem handlers (or this middleware,
    if nothing else answered yet) turn into the same 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await body_too_large_response(self.max_bytes)(scope, receive, send)
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLargeError:
            if started:
                raise
            await body_too_large_response(self.max_bytes)(scope, receive, send)
