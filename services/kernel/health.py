"""Health of a service over HTTP: ``/healthz``, ``/readyz`` and Prometheus ``/metrics``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.kernel.http import problem_response

ReadinessCheck = Callable[[], Awaitable[None]]


def install_health(app: FastAPI, checks: Iterable[tuple[str, ReadinessCheck]]) -> None:
    """``/healthz`` (the process lives), ``/readyz`` (its dependencies answer), ``/metrics``."""
    named_checks = list(checks)

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Readiness", response_model=None)
    async def readyz() -> Response:
        failures: dict[str, str] = {}
        for name, check in named_checks:
            try:
                await check()
            except Exception as exc:
                failures[name] = type(exc).__name__
        if failures:
            return problem_response(
                503,
                "not-ready",
                "Ikke klar",
                "Tjenesten kan ikke nå: " + ", ".join(failures),
                "The service cannot reach: " + ", ".join(failures),
                headers={"Retry-After": "2"},
                failing=failures,
            )
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        # Only reads: the gauges are computed in the background (ServiceRuntime), so a
        # scrape, which anyone may make, opens no Kafka client and runs no query.
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
