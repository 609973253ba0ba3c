"""HTTP API: the notification feed per recipient and per municipality, and deliveries.

The routes live on module-level routers (:mod:`.feed`, :mod:`.deliveries`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from fastapi import FastAPI

from services.kernel.health import ReadinessCheck, install_health
from services.kernel.http import (
    NO_OTEL,
    BodySizeLimitMiddleware,
    CorrelationMiddleware,
    install_problem_handlers,
)
from services.kernel.privacy import Vault
from services.notifications.entrypoints import deliveries, feed
from services.notifications.entrypoints.dependencies import Wiring


def create_app(
    pool: Callable[[], asyncpg.Pool],
    readiness: list[tuple[str, ReadinessCheck]],
    lifespan: Any = None,
    *,
    vault: Vault,
) -> FastAPI:
    """The FastAPI app; ``pool`` is called per request (the pool opens with the lifespan)."""
    app = FastAPI(
        title="KL notifications",
        version="1.0.0",
        description="Notifikationer til deltagere, kontaktpersoner og KL: feed og leveringer.",
        lifespan=lifespan,
        telemetry=NO_OTEL,
    )
    install_problem_handlers(app)
    install_health(app, readiness)
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(CorrelationMiddleware)
    app.state.wiring = Wiring(pool=pool, vault=vault)
    app.include_router(feed.router)
    app.include_router(deliveries.router)
    return app
