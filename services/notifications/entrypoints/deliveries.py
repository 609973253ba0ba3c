"""Routes of deliveries, for operators: e.g. the failed ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.kernel.auth import Operator
from services.notifications.adapters import queries
from services.notifications.entrypoints.dependencies import Limit, Offset, Wired
from services.notifications.entrypoints.schemas import Delivery, DeliveryPage, Status

router = APIRouter(tags=["operations"])


@router.get(
    "/deliveries",
    response_model=DeliveryPage,
    summary="Deliveries, e.g. the failed ones (?status=failed)",
)
async def list_deliveries(
    _: Operator,
    wired: Wired,
    status: Annotated[Status | None, Query(description="Only this status.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DeliveryPage:
    items, total = await queries.deliveries(wired.pool(), status, limit, offset)
    return DeliveryPage(
        items=[Delivery.model_validate(i) for i in items], total=total, limit=limit, offset=offset
    )
