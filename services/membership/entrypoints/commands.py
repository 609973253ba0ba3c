"""How a command route runs: with an Idempotency-Key once per caller, and answered only
once its events are on Kafka."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.kernel import idempotency
from services.kernel.principal import Principal
from services.membership.adapters.outreach_streams import PostgresOutreachStreams
from services.membership.adapters.streams import PostgresStreams
from services.membership.domain.errors import MembershipNotFoundError
from services.membership.entrypoints.dependencies import Wiring
from services.membership.entrypoints.schemas import MembershipView, NetworkView
from services.membership.service_layer import handlers

Action = Callable[[PostgresOutreachStreams], Awaitable[tuple[int, BaseModel]]]
Reread = Callable[[PostgresStreams, str], Awaitable[BaseModel]]
"""Reads a command's resource again by its id: the answer to a replayed Idempotency-Key."""


async def execute(
    wired: Wiring,
    principal: Principal,
    name: str,
    key: str | None,
    request: dict[str, Any],
    action: Action,
    reread: Reread | None = None,
) -> JSONResponse:
    """Run a command; with an Idempotency-Key, once per caller, in one transaction with
    its record. The record keeps the status and the resource's id, no answer: a replay
    reads the resource again (a contact erased since shows as erased). An answer that
    names no resource (``reread`` None: the outcomes of invitations) is kept as it is, and
    names nobody.

    The answer goes out once the command's events are on Kafka (``published``), so
    whoever is told "joined" can act on it at once in another service."""
    async with wired.streams() as streams:
        if key is None:
            status, body = await action(streams)
            response = JSONResponse(body.model_dump(mode="json"), status)
        else:
            async with streams.conn.transaction():
                response = await _once(streams, principal, name, key, request, action, reread)
    await wired.published.wait(streams.appended)
    return response


async def _once(
    streams: PostgresOutreachStreams,
    principal: Principal,
    name: str,
    key: str,
    request: dict[str, Any],
    action: Action,
    reread: Reread | None,
) -> JSONResponse:
    """The command, or its first answer again, under ``key`` (in the caller's transaction)."""
    scope = idempotency.scope(name, principal.subject)
    request_hash = idempotency.request_hash(request)
    stored = await idempotency.begin(streams.conn, scope, key, request_hash)
    if stored is not None:
        replayed = {"Idempotent-Replayed": "true"}
        if stored.resource_id is None or reread is None:  # an answer that names nobody
            return JSONResponse(stored.body, stored.status, headers=replayed)
        again = await reread(streams, stored.resource_id)
        return JSONResponse(again.model_dump(mode="json"), stored.status, headers=replayed)
    status, body = await action(streams)
    answer = body.model_dump(mode="json")
    if reread is None:
        await idempotency.remember(streams.conn, scope, key, request_hash, status, body=answer)
    else:
        await idempotency.remember(
            streams.conn, scope, key, request_hash, status, resource_id=_resource_id(body)
        )
    return JSONResponse(answer, status)


def _resource_id(body: BaseModel) -> str:
    """The id of the resource an answer shows (a membership, or a network's slug)."""
    if isinstance(body, MembershipView):
        return body.membership_id
    if isinstance(body, NetworkView):
        return body.slug
    raise TypeError(f"no resource id in {type(body).__name__}")


async def reread_membership(streams: PostgresStreams, membership_id: str) -> BaseModel:
    state, _ = await streams.load_membership(membership_id)
    if state is None:
        raise MembershipNotFoundError(membership_id)
    return MembershipView.of(state)


async def reread_network(streams: PostgresStreams, slug: str) -> BaseModel:
    return NetworkView.of(await handlers.require_network(streams, slug))
