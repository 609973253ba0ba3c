"""What the membership routes take from FastAPI: the service's parts (``Depends``) and the
path, query and header parameters they share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Header, Path, Query

from services.kernel.clock import Clock
from services.kernel.eventstore import EventStore
from services.kernel.http import from_app_state
from services.kernel.outbox import PublishedWaiter
from services.kernel.privacy import Vault
from services.membership.adapters.outreach_streams import PostgresOutreachStreams
from services.membership.adapters.outreach_views import PostgresOutreachViews
from services.membership.entrypoints.schemas import MEMBERSHIP_ID_PATTERN, SLUG_PATTERN, Problem


@dataclass(frozen=True)
class Wiring:
    """The parts the routes work with, set on the app by ``create_app``."""

    pool: Callable[[], asyncpg.Pool]
    store: EventStore
    clock: Clock
    vault: Vault
    published: PublishedWaiter

    @asynccontextmanager
    async def streams(self) -> AsyncIterator[PostgresOutreachStreams]:
        """The event streams (memberships, networks, the area lists and invitations) on a
        connection of the pool, for as long as the block runs."""
        async with self.pool().acquire() as conn:
            yield PostgresOutreachStreams(conn, self.store, self.vault)

    def views(self) -> PostgresOutreachViews:
        """The outreach's read models, on the pool."""
        return PostgresOutreachViews(self.pool())


Wired = Annotated[Wiring, Depends(from_app_state("wiring"))]

IdempotencyKey = Annotated[
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


def problems(*statuses: int, existing: str | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: problem+json for ``statuses``; 200 for an existing resource."""
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in statuses
    }
    if existing is not None:
        responses[200] = {"description": existing}
    return responses


def code_of(membership_id: str) -> str:
    """The municipality code a membership id ends in (``membership-knub-2022-101``)."""
    return membership_id.rsplit("-", 1)[-1]
