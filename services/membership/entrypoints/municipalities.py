"""Routes of municipalities: Denmark's 98, and one municipality's memberships."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.kernel.auth import OperatorOrCoordinator
from services.kernel.principal import allow
from services.kernel.refusals import Refusal
from services.membership.adapters import roster
from services.membership.domain.municipalities import MUNICIPALITIES, Region, municipality
from services.membership.entrypoints.dependencies import CodePath, Limit, Offset, Wired, problems
from services.membership.entrypoints.schemas import (
    MunicipalityList,
    MunicipalityView,
    RosterEntry,
    RosterPage,
)

router = APIRouter()


class NoSuchMunicipalityError(Refusal):
    """A municipality's resource asked for by a code no municipality has (a 404; an
    unknown code in a request's body is the domain's ``UnknownMunicipalityError``)."""

    code = "unknown-municipality"
    title = "Ukendt kommunekode"


def require_municipality(code: str) -> None:
    """Refuse a code in the path that no municipality has."""
    if municipality(code) is None:
        raise NoSuchMunicipalityError(
            f"Kommunekoden '{code}' findes ikke; se GET /municipalities.",
            f"There is no municipality with code '{code}'; see GET /municipalities.",
        )


@router.get("/municipalities", tags=["municipalities"], summary="Denmark's 98 municipalities")
async def get_municipalities(
    region: Annotated[Region | None, Query(description="Only this region.")] = None,
) -> MunicipalityList:
    items = [MunicipalityView.of(m) for m in MUNICIPALITIES if region in (None, m.region)]
    return MunicipalityList(total=len(items), items=items)


@router.get(
    "/municipalities/{code}/memberships",
    tags=["read models"],
    summary="A municipality's memberships over the years (read model)",
    responses=problems(404),
)
async def get_municipality_memberships(
    principal: OperatorOrCoordinator,
    code: CodePath,
    wired: Wired,
    limit: Limit = 100,
    offset: Offset = 0,
) -> RosterPage:
    allow(principal.acts_for(code))
    require_municipality(code)
    page = await roster.municipality_memberships(wired.pool(), code, limit=limit, offset=offset)
    return RosterPage(
        total=page.total, limit=limit, offset=offset, items=[RosterEntry.of(r) for r in page.rows]
    )
