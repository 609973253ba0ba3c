"""Routes of the notification feed: per recipient and per municipality."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from services.kernel.auth import AnyRole, OperatorOrCoordinator
from services.kernel.principal import allow
from services.notifications.adapters import queries
from services.notifications.entrypoints.dependencies import Limit, Offset, Wired
from services.notifications.entrypoints.schemas import FeedItem, FeedPage

router = APIRouter(tags=["feed"])


@router.get(
    "/recipients/{email}/notifications",
    response_model=FeedPage,
    summary="Notifications sent (or to be sent) to one e-mail address",
)
async def recipient_feed(
    principal: AnyRole,
    email: Annotated[
        str,
        Path(
            min_length=3,
            max_length=320,
            pattern=r"^[^@\s/\x00-\x1f\x7f]+@[^@\s/\x00-\x1f\x7f]+$",
            examples=["anne.jensen@aarhus.dk"],
        ),
    ],
    wired: Wired,
    limit: Limit = 50,
    offset: Offset = 0,
) -> FeedPage:
    # The feed is found by the vault's person of the address, so it compares addresses
    # exactly as tokens and the vault do (services.kernel.emails).
    allow(principal.is_operator or principal.is_person(email))
    person_id = await wired.vault.find(email)
    items, total = (
        ([], 0)
        if person_id is None
        else await queries.feed_for_recipient(wired.pool(), person_id, limit, offset)
    )
    return FeedPage(
        items=[FeedItem.model_validate(i) for i in items], total=total, limit=limit, offset=offset
    )


@router.get(
    "/municipalities/{code}/notifications",
    response_model=FeedPage,
    summary="Notifications to the staff and contact of one municipality",
)
async def municipality_feed(
    principal: OperatorOrCoordinator,
    code: Annotated[str, Path(pattern=r"^\d{3}$", examples=["751"])],
    wired: Wired,
    limit: Limit = 50,
    offset: Offset = 0,
) -> FeedPage:
    allow(principal.acts_for(code))
    items, total = await queries.feed_for_municipality(wired.pool(), code, limit, offset)
    return FeedPage(
        items=[FeedItem.model_validate(i) for i in items], total=total, limit=limit, offset=offset
    )
