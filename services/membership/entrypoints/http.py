"""The membership HTTP API (FastAPI): commands on memberships and networks, and queries.

Commands read and write the event store; ``GET /networks/{slug}/memberships/{year}/{code}``
and ``GET /memberships/{id}`` answer from it too (read-your-writes). The roster and the
municipality history answer from the read model fed by Kafka (eventually consistent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.kernel import idempotency
from services.kernel.auth import Operator, OperatorOrCoordinator, Principal, allow
from services.kernel.clock import Clock
from services.kernel.eventstore import EventStore
from services.kernel.health import ReadinessCheck, install_health
from services.kernel.http import (
    NO_OTEL,
    BodySizeLimitMiddleware,
    CorrelationMiddleware,
    ProblemError,
    install_problem_handlers,
    problem_response,
)
from services.kernel.outbox import PublishedWaiter
from services.kernel.privacy import Vault
from services.membership.adapters import roster
from services.membership.adapters.streams import PostgresStreams, list_networks
from services.membership.domain.errors import (
    AlreadyCancelledError,
    InvalidEanError,
    MembershipCancelledError,
    MembershipDomainError,
    MembershipNotFoundError,
    NetworkExistsError,
    UnknownMunicipalityError,
    UnknownNetworkError,
    YearInPastError,
    YearTooFarAheadError,
)
from services.membership.domain.model import Contact, membership_id
from services.membership.domain.municipalities import MUNICIPALITIES, Region, municipality
from services.membership.entrypoints.schemas import (
    MEMBERSHIP_ID_PATTERN,
    SLUG_PATTERN,
    CancelRequest,
    ContactRequest,
    JoinRequest,
    MembershipStatusView,
    MembershipView,
    MunicipalityList,
    MunicipalityView,
    NetworkList,
    NetworkRequest,
    NetworkView,
    Problem,
    RosterEntry,
    RosterPage,
)
from services.membership.service_layer import handlers
from services.membership.service_layer.ports import ConcurrencyError

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
Action = Callable[[PostgresStreams], Awaitable[tuple[int, BaseModel]]]
Reread = Callable[[PostgresStreams, str], Awaitable[BaseModel]]
"""Reads a command's resource again by its id: the answer to a replayed Idempotency-Key."""

IDEMPOTENCY_HEADER = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Makes a retried POST safe: the same key returns the first answer.",
    ),
]
MembershipIdPath = Annotated[
    str, Path(pattern=MEMBERSHIP_ID_PATTERN, examples=["membership-knub-2022-101"])
]
SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, examples=["knub"])]
YearPath = Annotated[int, Path(ge=1900, le=2999, examples=[2022])]
CodePath = Annotated[str, Path(pattern=r"^\d{3}$", examples=["101"])]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="How many to skip.")]


def _problems(*statuses: int, existing: str | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: problem+json for ``statuses``; 200 for an existing resource."""
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in statuses
    }
    if existing is not None:
        responses[200] = {"description": existing}
    return responses


def _resource_id(body: BaseModel) -> str:
    """The id of the resource an answer shows (a membership, or a network's slug)."""
    if isinstance(body, MembershipView):
        return body.membership_id
    if isinstance(body, NetworkView):
        return body.slug
    raise TypeError(f"no resource id in {type(body).__name__}")


def code_of(membership_id: str) -> str:
    """The municipality code a membership id ends in (``membership-knub-2022-101``)."""
    return membership_id.rsplit("-", 1)[-1]


def problem_for(exc: Exception) -> JSONResponse:
    """The problem+json answer to a refusal of the domain or a lost race."""
    if isinstance(exc, UnknownNetworkError):
        return problem_response(
            404,
            "unknown-network",
            "Ukendt netværk",
            f"Netværket '{exc.slug}' findes ikke. Se listen over netværk på GET /networks.",
            f"There is no network '{exc.slug}'. See the list of networks at GET /networks.",
        )
    if isinstance(exc, UnknownMunicipalityError):
        return problem_response(
            422,
            "unknown-municipality",
            "Ukendt kommunekode",
            f"Kommunekoden '{exc.code}' findes ikke. Brug kommunens officielle tre-cifrede "
            "kode, fx 101 for København; alle 98 koder står på GET /municipalities.",
            f"There is no municipality with code '{exc.code}'. Use the official three-digit "
            "code, e.g. 101 for København; all 98 codes are at GET /municipalities.",
        )
    if isinstance(exc, InvalidEanError):
        return problem_response(
            422,
            "invalid-ean",
            "Ugyldigt EAN-nummer",
            f"EAN-nummeret '{exc.ean}' er ikke gyldigt: det skal være 13 cifre, og det sidste "
            "ciffer skal passe som kontrolciffer. Tjek nummeret i kommunens økonomisystem "
            "eller på eannummer.dk.",
            f"The EAN number '{exc.ean}' is not valid: it must be 13 digits, the last one a "
            "matching check digit. Check the number in the municipality's finance system.",
        )
    if isinstance(exc, YearInPastError):
        return problem_response(
            422,
            "year-in-past",
            "Året er slut",
            f"Man kan ikke tilmelde sig for {exc.year}, som er slut. Vælg {exc.current_year} "
            "eller et senere år.",
            f"You cannot sign up for {exc.year}, which has ended. Choose {exc.current_year} "
            "or a later year.",
        )
    if isinstance(exc, YearTooFarAheadError):
        return problem_response(
            422,
            "year-too-far-ahead",
            "Året er for langt ude i fremtiden",
            f"Tilmelding for {exc.year} er ikke åben endnu. Man kan tilmelde sig til og med "
            f"{exc.latest_year}.",
            f"Sign-up for {exc.year} is not open yet. You can sign up up to {exc.latest_year}.",
        )
    if isinstance(exc, AlreadyCancelledError):
        return problem_response(
            409,
            "already-cancelled",
            "Medlemskabet er allerede opsagt",
            f"Medlemskabet {exc.membership_id} er allerede opsagt. Der er ikke mere at gøre.",
            f"The membership {exc.membership_id} is already cancelled. Nothing more to do.",
        )
    if isinstance(exc, MembershipCancelledError):
        return problem_response(
            409,
            "membership-cancelled",
            "Medlemskabet er opsagt",
            f"Medlemskabet {exc.membership_id} er opsagt og kan ikke ændres eller fornyes "
            "her. Kontakt KL, hvis kommunen vil genoptage det.",
            f"The membership {exc.membership_id} is cancelled and cannot be changed or "
            "renewed here. Contact KL if the municipality wants to resume it.",
        )
    if isinstance(exc, MembershipNotFoundError):
        return problem_response(
            404,
            "unknown-membership",
            "Ukendt medlemskab",
            f"Medlemskabet {exc.membership_id or ''} findes ikke. Tjek id'et, eller tilmeld "
            "kommunen med POST /networks/{slug}/memberships.",
            f"The membership {exc.membership_id or ''} does not exist. Check the id, or sign "
            "the municipality up with POST /networks/{slug}/memberships.",
        )
    if isinstance(exc, NetworkExistsError):
        return problem_response(
            409,
            "network-exists",
            "Netværket findes allerede",
            f"Der findes allerede et netværk med id'et '{exc.slug}' med andre oplysninger. "
            "Vælg et andet id.",
            f"A network '{exc.slug}' already exists with other details. Choose another id.",
        )
    return problem_response(
        409,
        "busy",
        "Medlemskabet blev ændret samtidig",
        "Medlemskabet blev ændret af en anden lige nu. Prøv igen.",
        "The membership was changed by someone else just now. Try again.",
        headers={"Retry-After": "1"},
    )


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
    published = published or PublishedWaiter(pool, timeout_s=0)
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

    @app.exception_handler(MembershipDomainError)
    async def _domain(_: Request, exc: MembershipDomainError) -> JSONResponse:
        return problem_for(exc)

    @app.exception_handler(ConcurrencyError)
    async def _busy(_: Request, exc: ConcurrencyError) -> JSONResponse:
        return problem_for(exc)

    async def execute(
        principal: Principal,
        name: str,
        key: str | None,
        request: dict[str, Any],
        action: Action,
        reread: Reread,
    ) -> JSONResponse:
        """Run a command; with an Idempotency-Key, once per caller, in one transaction with
        its record. The record keeps the status and the resource's id, no answer: a replay
        reads the resource again (a contact erased since shows as erased).

        The answer goes out once the command's events are on Kafka (``published``), so
        whoever is told "joined" can act on it at once in another service."""
        async with pool().acquire() as conn:
            streams = PostgresStreams(conn, store, vault)
            response = await _run(conn, streams, principal, name, key, request, action, reread)
        await published.wait(streams.appended)
        return response

    async def _run(
        conn: asyncpg.Connection,
        streams: PostgresStreams,
        principal: Principal,
        name: str,
        key: str | None,
        request: dict[str, Any],
        action: Action,
        reread: Reread,
    ) -> JSONResponse:
        if key is None:
            status, body = await action(streams)
            return JSONResponse(body.model_dump(mode="json"), status)
        scope = idempotency.scope(name, principal.subject)
        async with conn.transaction():
            request_hash = idempotency.request_hash(request)
            stored = await idempotency.begin(conn, scope, key, request_hash)
            if stored is not None:
                replayed = {"Idempotent-Replayed": "true"}
                if stored.resource_id is None:  # an answer that names nobody, as given
                    return JSONResponse(stored.body, stored.status, headers=replayed)
                again = await reread(streams, stored.resource_id)
                return JSONResponse(again.model_dump(mode="json"), stored.status, headers=replayed)
            status, body = await action(streams)
            resource_id = _resource_id(body)
            await idempotency.remember(
                conn, scope, key, request_hash, status, resource_id=resource_id
            )
            return JSONResponse(body.model_dump(mode="json"), status)

    async def reread_membership(streams: PostgresStreams, membership_id: str) -> BaseModel:
        state, _ = await streams.load_membership(membership_id)
        if state is None:
            raise MembershipNotFoundError(membership_id)
        return MembershipView.of(state)

    async def reread_network(streams: PostgresStreams, slug: str) -> BaseModel:
        return NetworkView.of(await handlers.require_network(streams, slug))

    # --- Networks --------------------------------------------------------------------

    @app.get("/networks", tags=["networks"], summary="All networks")
    async def get_networks() -> NetworkList:
        networks = await list_networks(pool())
        return NetworkList(total=len(networks), items=[NetworkView.of(n) for n in networks])

    @app.post(
        "/networks",
        tags=["networks"],
        summary="Create a network",
        status_code=201,
        response_model=NetworkView,
        responses=_problems(409, 422, existing="It existed already"),
    )
    async def post_network(
        principal: Operator, body: NetworkRequest, key: IDEMPOTENCY_HEADER = None
    ) -> JSONResponse:
        async def action(streams: PostgresStreams) -> tuple[int, BaseModel]:
            network, created = await handlers.create_network(
                streams,
                clock,
                slug=body.slug,
                name=body.name,
                description=body.description,
                yearly_fee_dkk=body.yearly_fee_dkk,
            )
            return (201 if created else 200), NetworkView.of(network)

        return await execute(
            principal, "membership:create-network", key, body.model_dump(), action, reread_network
        )

    # --- Memberships: commands -------------------------------------------------------

    @app.post(
        "/networks/{slug}/memberships",
        tags=["memberships"],
        summary="Join a network for a year",
        description="Idempotent: joining again for the same municipality, network and year "
        "returns the existing membership with 200. A cancelled membership is not rejoined "
        "here (409): the municipality contacts KL.",
        status_code=201,
        response_model=MembershipView,
        responses=_problems(404, 409, 422, existing="Already a member"),
    )
    async def join(
        principal: OperatorOrCoordinator,
        slug: SlugPath,
        body: JoinRequest,
        key: IDEMPOTENCY_HEADER = None,
    ) -> JSONResponse:
        allow(principal.acts_for(body.municipality_code))

        async def action(streams: PostgresStreams) -> tuple[int, BaseModel]:
            outcome = await handlers.join_network(
                streams,
                clock,
                network_slug=slug,
                municipality_code=body.municipality_code,
                year=body.year,
                contact=Contact(body.contact_name, str(body.contact_email)),
                ean=body.ean,
            )
            return (201 if outcome.changed else 200), MembershipView.of(outcome.membership)

        request = {"slug": slug, **body.model_dump(mode="json")}
        return await execute(principal, "membership:join", key, request, action, reread_membership)

    @app.post(
        "/memberships/{membership_id}/cancel",
        tags=["memberships"],
        summary="Cancel a membership",
        response_model=MembershipView,
        responses=_problems(404, 409, 422),
    )
    async def cancel(
        principal: OperatorOrCoordinator,
        membership_id: MembershipIdPath,
        body: CancelRequest,
        key: IDEMPOTENCY_HEADER = None,
    ) -> JSONResponse:
        allow(principal.acts_for(code_of(membership_id)))

        async def action(streams: PostgresStreams) -> tuple[int, BaseModel]:
            outcome = await handlers.cancel_membership(
                streams, clock, membership_id=membership_id, reason=body.reason
            )
            return 200, MembershipView.of(outcome.membership)

        request = {"membership_id": membership_id, **body.model_dump()}
        return await execute(
            principal, "membership:cancel", key, request, action, reread_membership
        )

    @app.post(
        "/memberships/{membership_id}/renew",
        tags=["memberships"],
        summary="Renew a membership for the next year",
        description="Opens next year's membership (201) with the same contact and EAN; "
        "if it exists already and is active, returns it (200).",
        status_code=201,
        response_model=MembershipView,
        responses=_problems(404, 409, 422, existing="Already renewed"),
    )
    async def renew(
        principal: OperatorOrCoordinator,
        membership_id: MembershipIdPath,
        key: IDEMPOTENCY_HEADER = None,
    ) -> JSONResponse:
        allow(principal.acts_for(code_of(membership_id)))

        async def action(streams: PostgresStreams) -> tuple[int, BaseModel]:
            outcome = await handlers.renew_membership(streams, clock, membership_id=membership_id)
            return (201 if outcome.changed else 200), MembershipView.of(outcome.membership)

        request = {"membership_id": membership_id}
        return await execute(principal, "membership:renew", key, request, action, reread_membership)

    @app.put(
        "/memberships/{membership_id}/contact",
        tags=["memberships"],
        summary="Change the contact person",
        response_model=MembershipView,
        responses=_problems(404, 409, 422),
    )
    async def put_contact(
        principal: OperatorOrCoordinator, membership_id: MembershipIdPath, body: ContactRequest
    ) -> JSONResponse:
        allow(principal.acts_for(code_of(membership_id)))

        async def action(streams: PostgresStreams) -> tuple[int, BaseModel]:
            outcome = await handlers.change_contact(
                streams,
                clock,
                membership_id=membership_id,
                contact=Contact(body.contact_name, str(body.contact_email)),
            )
            return 200, MembershipView.of(outcome.membership)

        return await execute(principal, "membership:contact", None, {}, action, reread_membership)

    # --- Memberships: queries on the event store -------------------------------------

    @app.get(
        "/memberships/{membership_id}",
        tags=["memberships"],
        summary="A membership (from the event store)",
        responses=_problems(404),
    )
    async def get_membership(
        principal: OperatorOrCoordinator, membership_id: MembershipIdPath
    ) -> MembershipView:
        allow(principal.acts_for(code_of(membership_id)))
        async with pool().acquire() as conn:
            state, _ = await PostgresStreams(conn, store, vault).load_membership(membership_id)
        if state is None:
            raise MembershipNotFoundError(membership_id)
        return MembershipView.of(state)

    @app.get(
        "/networks/{slug}/memberships/{year}/{municipality_code}",
        tags=["memberships"],
        summary="Is a municipality a member in a year? (strongly consistent)",
        description="Answers from the event store, so a join is visible here as soon as "
        "its request returned. Other services ask this when their own view does not know "
        "the municipality yet. Public (no token): it tells only whether a municipality is a "
        "member, never a contact person or other personal data.",
        responses=_problems(404),
    )
    async def get_membership_status(
        slug: SlugPath, year: YearPath, municipality_code: CodePath
    ) -> MembershipStatusView:
        async with pool().acquire() as conn:
            streams = PostgresStreams(conn, store, vault)
            await handlers.require_network(streams, slug)
            stream_id = membership_id(slug, year, municipality_code)
            state, _ = await streams.load_membership(stream_id)
        if state is None:
            raise MembershipNotFoundError(stream_id)
        return MembershipStatusView(
            membership_id=state.membership_id,
            network_slug=state.network_slug,
            year=state.year,
            municipality_code=state.municipality_code,
            status=state.status.value,
        )

    # --- Read models -----------------------------------------------------------------

    @app.get(
        "/networks/{slug}/roster/{year}",
        tags=["read models"],
        summary="A network's members in a year (roster read model)",
        responses=_problems(404),
    )
    async def get_roster(
        _: Operator,
        slug: SlugPath,
        year: YearPath,
        status: Annotated[
            Literal["active", "cancelled", "all"], Query(description="Which memberships.")
        ] = "active",
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> RosterPage:
        async with pool().acquire() as conn:
            await handlers.require_network(PostgresStreams(conn, store, vault), slug)
            page = await roster.roster(
                conn,
                slug,
                year,
                status=None if status == "all" else status,
                limit=limit,
                offset=offset,
            )
        return RosterPage(
            total=page.total,
            limit=limit,
            offset=offset,
            items=[RosterEntry.of(r) for r in page.rows],
        )

    @app.get(
        "/municipalities",
        tags=["municipalities"],
        summary="Denmark's 98 municipalities",
    )
    async def get_municipalities(
        region: Annotated[Region | None, Query(description="Only this region.")] = None,
    ) -> MunicipalityList:
        items = [MunicipalityView.of(m) for m in MUNICIPALITIES if region in (None, m.region)]
        return MunicipalityList(total=len(items), items=items)

    @app.get(
        "/municipalities/{code}/memberships",
        tags=["read models"],
        summary="A municipality's memberships over the years (read model)",
        responses=_problems(404),
    )
    async def get_municipality_memberships(
        principal: OperatorOrCoordinator, code: CodePath, limit: Limit = 100, offset: Offset = 0
    ) -> RosterPage:
        allow(principal.acts_for(code))
        if municipality(code) is None:
            raise ProblemError(
                404,
                "unknown-municipality",
                "Ukendt kommunekode",
                f"Kommunekoden '{code}' findes ikke; se GET /municipalities.",
                f"There is no municipality with code '{code}'; see GET /municipalities.",
            )
        page = await roster.municipality_memberships(pool(), code, limit=limit, offset=offset)
        return RosterPage(
            total=page.total,
            limit=limit,
            offset=offset,
            items=[RosterEntry.of(r) for r in page.rows],
        )

    return app
