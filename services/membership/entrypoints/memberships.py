"""Routes of memberships: join, cancel, renew, change the contact; read one from the store."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.kernel.auth import OperatorOrCoordinator
from services.kernel.principal import allow
from services.membership.adapters.streams import PostgresStreams
from services.membership.domain.errors import MembershipNotFoundError
from services.membership.domain.model import Contact, membership_id
from services.membership.entrypoints.commands import execute, reread_membership
from services.membership.entrypoints.dependencies import (
    CodePath,
    IdempotencyKey,
    MembershipIdPath,
    SlugPath,
    Wired,
    YearPath,
    code_of,
    problems,
)
from services.membership.entrypoints.schemas import (
    CancelRequest,
    ContactRequest,
    JoinRequest,
    MembershipStatusView,
    MembershipView,
)
from services.membership.service_layer import handlers

router = APIRouter(tags=["memberships"])


@router.post(
    "/networks/{slug}/memberships",
    summary="Join a network for a year",
    description="Idempotent: joining again for the same municipality, network and year "
    "returns the existing membership with 200. A cancelled membership is not rejoined "
    "here (409): the municipality contacts KL.",
    status_code=201,
    response_model=MembershipView,
    responses=problems(404, 409, 422, existing="Already a member"),
)
async def join(
    principal: OperatorOrCoordinator,
    slug: SlugPath,
    body: JoinRequest,
    wired: Wired,
    key: IdempotencyKey = None,
) -> JSONResponse:
    allow(principal.acts_for(body.municipality_code))

    async def action(streams: PostgresStreams) -> tuple[int, BaseModel]:
        outcome = await handlers.join_network(
            streams,
            wired.clock,
            network_slug=slug,
            municipality_code=body.municipality_code,
            year=body.year,
            contact=Contact(body.contact_name, str(body.contact_email)),
            ean=body.ean,
        )
        return (201 if outcome.changed else 200), MembershipView.of(outcome.membership)

    request = {"slug": slug, **body.model_dump(mode="json")}
    return await execute(
        wired, principal, "membership:join", key, request, action, reread_membership
    )


@router.post(
    "/memberships/{membership_id}/cancel",
    summary="Cancel a membership",
    response_model=MembershipView,
    responses=problems(404, 409, 422),
)
async def cancel(
    principal: OperatorOrCoordinator,
    membership_id: MembershipIdPath,
    body: CancelRequest,
    wired: Wired,
    key: IdempotencyKey = None,
) -> JSONResponse:
    allow(principal.acts_for(code_of(membership_id)))

    async def action(streams: PostgresStreams) -> tuple[int, BaseModel]:
        outcome = await handlers.cancel_membership(
            streams, wired.clock, membership_id=membership_id, reason=body.reason
        )
        return 200, MembershipView.of(outcome.membership)

    request = {"membership_id": membership_id, **body.model_dump()}
    return await execute(
        wired, principal, "membership:cancel", key, request, action, reread_membership
    )


@router.post(
    "/memberships/{membership_id}/renew",
    summary="Renew a membership for the next year",
    description="Opens next year's membership (201) with the same contact and EAN; "
    "if it exists already and is active, returns it (200).",
    status_code=201,
    response_model=MembershipView,
    responses=problems(404, 409, 422, existing="Already renewed"),
)
async def renew(
    principal: OperatorOrCoordinator,
    membership_id: MembershipIdPath,
    wired: Wired,
    key: IdempotencyKey = None,
) -> JSONResponse:
    allow(principal.acts_for(code_of(membership_id)))

    async def action(streams: PostgresStreams) -> tuple[int, BaseModel]:
        outcome = await handlers.renew_membership(streams, wired.clock, membership_id=membership_id)
        return (201 if outcome.changed else 200), MembershipView.of(outcome.membership)

    request = {"membership_id": membership_id}
    return await execute(
        wired, principal, "membership:renew", key, request, action, reread_membership
    )


@router.put(
    "/memberships/{membership_id}/contact",
    summary="Change the contact person",
    response_model=MembershipView,
    responses=problems(404, 409, 422),
)
async def put_contact(
    principal: OperatorOrCoordinator,
    membership_id: MembershipIdPath,
    body: ContactRequest,
    wired: Wired,
) -> JSONResponse:
    allow(principal.acts_for(code_of(membership_id)))

    async def action(streams: PostgresStreams) -> tuple[int, BaseModel]:
        outcome = await handlers.change_contact(
            streams,
            wired.clock,
            membership_id=membership_id,
            contact=Contact(body.contact_name, str(body.contact_email)),
        )
        return 200, MembershipView.of(outcome.membership)

    return await execute(
        wired, principal, "membership:contact", None, {}, action, reread_membership
    )


@router.get(
    "/memberships/{membership_id}",
    summary="A membership (from the event store)",
    responses=problems(404),
)
async def get_membership(
    principal: OperatorOrCoordinator, membership_id: MembershipIdPath, wired: Wired
) -> MembershipView:
    allow(principal.acts_for(code_of(membership_id)))
    async with wired.streams() as streams:
        state, _ = await streams.load_membership(membership_id)
    if state is None:
        raise MembershipNotFoundError(membership_id)
    return MembershipView.of(state)


@router.get(
    "/networks/{slug}/memberships/{year}/{municipality_code}",
    summary="Is a municipality a member in a year? (strongly consistent)",
    description="Answers from the event store, so a join is visible here as soon as "
    "its request returned. Other services ask this when their own view does not know "
    "the municipality yet. Public (no token): it tells only whether a municipality is a "
    "member, never a contact person or other personal data.",
    responses=problems(404),
)
async def get_membership_status(
    slug: SlugPath, year: YearPath, municipality_code: CodePath, wired: Wired
) -> MembershipStatusView:
    async with wired.streams() as streams:
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
