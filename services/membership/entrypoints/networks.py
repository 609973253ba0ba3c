"""Routes of networks: the list, creating one, and a network's roster in a year."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.kernel.auth import Operator
from services.membership.adapters import roster
from services.membership.adapters.streams import PostgresStreams, list_networks
from services.membership.entrypoints.commands import execute, reread_network
from services.membership.entrypoints.dependencies import (
    IdempotencyKey,
    Limit,
    Offset,
    SlugPath,
    Wired,
    YearPath,
    problems,
)
from services.membership.entrypoints.schemas import (
    NetworkList,
    NetworkRequest,
    NetworkView,
    RosterEntry,
    RosterPage,
)
from services.membership.service_layer import handlers

router = APIRouter()


@router.get("/networks", tags=["networks"], summary="All networks")
async def get_networks(wired: Wired) -> NetworkList:
    networks = await list_networks(wired.pool())
    return NetworkList(total=len(networks), items=[NetworkView.of(n) for n in networks])


@router.post(
    "/networks",
    tags=["networks"],
    summary="Create a network",
    status_code=201,
    response_model=NetworkView,
    responses=problems(409, 422, existing="It existed already"),
)
async def post_network(
    principal: Operator, body: NetworkRequest, wired: Wired, key: IdempotencyKey = None
) -> JSONResponse:
    async def action(streams: PostgresStreams) -> tuple[int, BaseModel]:
        network, created = await handlers.create_network(
            streams,
            wired.clock,
            slug=body.slug,
            name=body.name,
            description=body.description,
            yearly_fee_dkk=body.yearly_fee_dkk,
        )
        return (201 if created else 200), NetworkView.of(network)

    request = body.model_dump()
    name = "membership:create-network"
    return await execute(wired, principal, name, key, request, action, reread_network)


@router.get(
    "/networks/{slug}/roster/{year}",
    tags=["read models"],
    summary="A network's members in a year (roster read model)",
    responses=problems(404),
)
async def get_roster(
    _: Operator,
    slug: SlugPath,
    year: YearPath,
    wired: Wired,
    status: Annotated[
        Literal["active", "cancelled", "all"], Query(description="Which memberships.")
    ] = "active",
    limit: Limit = 100,
    offset: Offset = 0,
) -> RosterPage:
    async with wired.streams() as streams:
        await handlers.require_network(streams, slug)
        page = await roster.roster(
            streams.conn,
            slug,
            year,
            status=None if status == "all" else status,
            limit=limit,
            offset=offset,
        )
    return RosterPage(
        total=page.total, limit=limit, offset=offset, items=[RosterEntry.of(r) for r in page.rows]
    )
