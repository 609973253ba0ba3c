"""The events service's HTTP API (FastAPI): meetings, registrations, availability.

Commands on a meeting go through the use cases (:mod:`..service_layer.handlers`), which
have them decided in the meeting's batched, serialised step; reads of lists and
availability come from the projections. The routes live on module-level routers
(:mod:`.meetings`, :mod:`.registrations`, :mod:`.availability`, :mod:`.privacy`). Every
refusal is problem+json with a Danish ``detail`` and ``detail_en`` beside it, carried by the
error itself; :data:`REFUSALS` gives its status. Nothing is written on a refusal.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.events.adapters import membership_view
from services.events.adapters.projections import queries
from services.events.config import Settings
from services.events.domain import errors
from services.events.entrypoints import availability, meetings, privacy, registrations
from services.events.entrypoints.dependencies import Wiring
from services.events.service_layer.batching import ConcurrencyExhaustedError, MeetingService
from services.events.service_layer.erasure import ErasureService
from services.events.service_layer.handlers import MeetingHandlers
from services.events.service_layer.ports import MembershipServiceUnavailableError
from services.kernel.health import install_health
from services.kernel.http import (
    NO_OTEL,
    BodySizeLimitMiddleware,
    CorrelationMiddleware,
    install_problem_handlers,
    install_refusals,
    problem_response,
)
from services.kernel.runtime import ServiceRuntime
from services.kernel.shared_poll import SharedPoll
from services.kernel.stream_limits import StreamLimiter

KNOWN_NETWORKS = {"knub": "Kommunernes Netværk for Udsatte Boligområder"}

REFUSALS: dict[type[Exception], int] = {
    errors.MeetingError: 409,
    errors.MeetingNotFoundError: 404,
    errors.RegistrationNotFoundError: 404,
    errors.NotAMemberError: 403,
    errors.InvalidMeetingError: 422,
    MembershipServiceUnavailableError: 503,
    ConcurrencyExhaustedError: 503,
}
"""The HTTP status of each refusal (the nearest class counts); its words are its own."""


def create_app(
    *,
    runtime: ServiceRuntime,
    handlers: MeetingHandlers,
    meetings_service: MeetingService,
    settings: Settings,
    erasure: ErasureService,
) -> FastAPI:
    """The FastAPI app; its lifespan starts and stops the runtime."""
    app = FastAPI(
        title="KL events service",
        version="1.0.0",
        description="Netværksmøder, tilmeldinger, pladser og venteliste. "
        "Network meetings, registrations, seats and the waiting list.",
        lifespan=runtime.lifespan,
        telemetry=NO_OTEL,
    )
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(CorrelationMiddleware)
    install_problem_handlers(app)
    install_health(app, runtime.readiness_checks())
    install_refusals(app, REFUSALS)

    @app.exception_handler(errors.NotAMemberError)
    async def _not_a_member(_: Request, exc: errors.NotAMemberError) -> JSONResponse:
        # How to join is part of the answer: the network's name (from the service's own
        # view of the membership topic) and the public address where one joins.
        name = KNOWN_NETWORKS.get(exc.network_slug, exc.network_slug)
        try:
            name = await membership_view.network_name(runtime.pool, exc.network_slug) or name
        except Exception:  # noqa: S110 - the name is a courtesy; the refusal stands
            pass
        join_url = settings.join_url_template.format(slug=exc.network_slug)
        return problem_response(
            REFUSALS[errors.NotAMemberError],
            exc.code,
            exc.title,
            f"{exc.detail_da} Indmeldelse i {name}: POST {join_url}",
            f"{exc.detail_en} To join {name}: POST {join_url}",
            network=exc.network_slug,
            network_name=name,
            join_url=join_url,
            join_year=exc.year + 1 if exc.offer else exc.year,
        )

    app.state.wiring = Wiring(
        handlers=handlers,
        meetings=meetings_service,
        clock=handlers.clock,
        pool=lambda: runtime.pool,
        erasure=erasure,
        availability=SharedPoll(
            lambda stream: queries.availability(runtime.pool, stream),
            settings.sse_interval_s,
            name="availability",
        ),
        stream_limits=StreamLimiter(settings.sse_max_streams, settings.sse_max_streams_per_client),
    )
    app.include_router(meetings.router)
    app.include_router(registrations.router)
    app.include_router(availability.router)
    app.include_router(registrations.municipalities)
    app.include_router(privacy.router)
    return app
