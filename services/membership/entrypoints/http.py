"""The membership HTTP API (FastAPI): commands on memberships and networks, and queries.

Commands read and write the event store; ``GET /networks/{slug}/memberships/{year}/{code}``
and ``GET /memberships/{id}`` answer from it too (read-your-writes). The roster and the
municipality history answer from the read model fed by Kafka (eventually consistent).
The routes live on module-level routers (``networks``, ``memberships``,
``municipalities``, ``outreach``); every refusal carries its own problem text, and
:data:`REFUSALS` gives its status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager

import asyncpg
from fastapi import FastAPI

from services.kernel.clock import Clock
from services.kernel.eventstore import EventStore
from services.kernel.health import ReadinessCheck, install_health
from services.kernel.http import (
    NO_OTEL,
    BodySizeLimitMiddleware,
    CorrelationMiddleware,
    install_problem_handlers,
    install_refusals,
)
from services.kernel.outbox import PublishedWaiter
from services.kernel.privacy import Vault
from services.membership.domain import errors
from services.membership.entrypoints import memberships, municipalities, networks, outreach
from services.membership.entrypoints.dependencies import Wiring
from services.membership.service_layer.ports import ConcurrencyError

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

REFUSALS: dict[type[Exception], int] = {
    errors.MembershipDomainError: 409,
    errors.UnknownNetworkError: 404,
    errors.MembershipNotFoundError: 404,
    errors.UnknownMunicipalityError: 422,
    errors.InvalidEanError: 422,
    errors.YearInPastError: 422,
    errors.YearTooFarAheadError: 422,
    errors.AreaListInvalidError: 422,
    errors.InvitationsInvalidError: 422,
    errors.OfferMeetingError: 422,
    errors.UnknownAreaListError: 404,
    municipalities.NoSuchMunicipalityError: 404,
    ConcurrencyError: 409,
}
"""The HTTP status of each refusal (the nearest class counts); its words are its own."""


def create_app(
    *,
    pool: Callable[[], asyncpg.Pool],
    store: EventStore,
    clock: Clock,
    vault: Vault,
    published: PublishedWaiter | None = None,
    lifespan: Lifespan | None = None,
    readiness_checks: Iterable[tuple[str, ReadinessCheck]] = (),
) -> FastAPI:
    """The FastAPI app over a pool, an event store and a clock (wired by ``bootstrap``)."""
    app = FastAPI(
        title="KL membership service",
        version="1.0.0",
        description="Kommuners medlemskab af KL's netværk, pr. kalenderår. "
        "Municipalities' memberships of KL's networks, per calendar year.",
        lifespan=lifespan,
        telemetry=NO_OTEL,
    )
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(CorrelationMiddleware)
    install_problem_handlers(app)
    install_health(app, readiness_checks)
    install_refusals(app, REFUSALS)
    app.state.wiring = Wiring(
        pool=pool,
        store=store,
        clock=clock,
        vault=vault,
        published=published or PublishedWaiter(pool, timeout_s=0),
    )
    app.include_router(networks.router)
    app.include_router(memberships.router)
    app.include_router(municipalities.router)
    app.include_router(outreach.router)
    return app
