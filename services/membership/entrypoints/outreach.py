"""Routes of the outreach: the yearly area lists, invitations, the outreach and statistics.

The lists are public data (``GET``); importing, inviting and the figures are KL's. An import
and an invitation request are commands (:func:`~.commands.execute`: answered once their
events are on Kafka; invitations once per Idempotency-Key and caller). Refusals are the
domain's own errors, each with its texts; ``REFUSALS`` in :mod:`.http` gives their status.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.kernel.auth import Operator, OperatorOrCoordinator
from services.kernel.principal import allow
from services.membership.adapters.outreach_streams import PostgresOutreachStreams
from services.membership.adapters.outreach_views import PostgresOutreachViews
from services.membership.domain.errors import UnknownAreaListError
from services.membership.domain.invitations import InvitationRequest
from services.membership.domain.model import Contact
from services.membership.entrypoints.commands import execute
from services.membership.entrypoints.csv_files import Table, read_area_list, statistics_table
from services.membership.entrypoints.dependencies import (
    CodePath,
    IdempotencyKey,
    SlugPath,
    Wired,
    problems,
)
from services.membership.entrypoints.municipalities import require_municipality
from services.membership.entrypoints.outreach_schemas import (
    AreaListImported,
    AreaListSummaries,
    AreaListSummary,
    AreaListView,
    InvitationList,
    InvitationsAnswer,
    InvitationsRequest,
    InvitationView,
    ListedAreaView,
    MunicipalityAreaList,
    MunicipalityAreas,
)
from services.membership.entrypoints.statistics_schemas import OutreachView, StatisticsView, Status
from services.membership.service_layer import area_lists, invitations, outreach
from services.membership.service_layer.handlers import require_network

ListDatePath = Annotated[date, Path(examples=["2021-12-01"])]
ListYearPath = Annotated[int, Path(ge=1900, le=2999, examples=[2021])]
CSV_EXAMPLE = (
    "list_date,category,area,municipality_code,municipality\n"
    "2021-12-01,parallelsamfund,Vollsmose,461,Odense\n"
)

router = APIRouter(tags=["outreach"])


# --- The lists -------------------------------------------------------------------------


@router.post(
    "/area-lists",
    summary="Import the lists of housing areas of one date (CSV)",
    description="The body is a CSV in the columns list_date, category, area, "
    "municipality_code, municipality (comma or semicolon, UTF-8). All or nothing: a bad row "
    "refuses the whole import with a 422 naming every bad row (its line in the file) and "
    "column. The same list again changes nothing (200, changed false); a different list for "
    "the same date replaces it as the next revision (201).",
    status_code=201,
    response_model=AreaListImported,
    responses=problems(404, 409, 422, existing="The same list again: nothing changed"),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
        }
    },
)
async def import_area_list(
    principal: Operator,
    wired: Wired,
    request: Request,
    partial: Annotated[
        bool, Query(description="The list is known to hold only part of the official lists.")
    ] = False,
) -> JSONResponse:
    rows = read_area_list(await request.body())

    async def action(streams: PostgresOutreachStreams) -> tuple[int, BaseModel]:
        result = await area_lists.import_area_list(streams, wired.clock, rows, partial=partial)
        body = AreaListImported.model_validate(
            {**AreaListSummary.fields_of(result.area_list), "changed": result.changed}
        )
        return (201 if result.changed else 200), body

    return await execute(wired, principal, "membership:import-area-list", None, {}, action)


@router.get("/area-lists", summary="The imported lists (public)")
async def get_area_lists(wired: Wired) -> AreaListSummaries:
    lists = await wired.views().area_lists()
    return AreaListSummaries(total=len(lists), items=[AreaListSummary.of(a) for a in lists])


@router.get(
    "/area-lists/{list_date}",
    summary="One list with its rows (public)",
    responses=problems(404, 409, 422),
)
async def get_area_list(wired: Wired, list_date: ListDatePath) -> AreaListView:
    for area_list in await wired.views().area_lists():
        if area_list.list_date == list_date:
            return AreaListView.of(area_list)
    raise UnknownAreaListError(list_date)


@router.get(
    "/municipalities/{code}/areas",
    summary="A municipality's areas on the lists (public)",
    responses=problems(404, 409, 422),
)
async def get_municipality_areas(wired: Wired, code: CodePath) -> MunicipalityAreas:
    require_municipality(code)
    found = await outreach.areas_of_municipality(wired.views(), code)
    return MunicipalityAreas(
        municipality_code=code,
        lists=[
            MunicipalityAreaList(
                list_date=f.area_list.list_date,
                partial=f.area_list.partial,
                items=[ListedAreaView.of(a) for a in f.areas],
            )
            for f in found
        ],
    )


# --- Invitations -----------------------------------------------------------------------


@router.post(
    "/networks/{slug}/invitations",
    summary="Invite listed municipalities that are not members",
    description="One invitation per municipality, network and year (the year after the "
    "list's), to the address the operator gives; the notifications service mails it in "
    "Danish. Inviting again changes nothing unless `reminder` is true. Members of the year "
    "are not invited. A municipality that is unknown, not on the list or named twice "
    "refuses the whole request (422); nobody is invited then.",
    response_model=InvitationsAnswer,
    responses=problems(404, 409, 422),
)
async def post_invitations(
    principal: Operator,
    wired: Wired,
    slug: SlugPath,
    body: InvitationsRequest,
    key: IdempotencyKey = None,
) -> JSONResponse:
    requests = [
        InvitationRequest(e.municipality_code, Contact(e.contact_name or "", str(e.contact_email)))
        for e in body.invitations
    ]

    async def action(streams: PostgresOutreachStreams) -> tuple[int, BaseModel]:
        async with streams.conn.transaction():  # every invitation of the request, or none
            done = await invitations.invite(
                streams,
                PostgresOutreachViews(streams.conn),
                wired.clock,
                network_slug=slug,
                list_date=body.list_date,
                requests=requests,
                meeting_id=body.meeting_id,
                reminder=body.reminder,
            )
        return 200, InvitationsAnswer.of(done)

    request = {"slug": slug, **body.model_dump(mode="json")}
    return await execute(wired, principal, "membership:invite", key, request, action)


@router.get(
    "/municipalities/{code}/invitations",
    summary="A municipality's invitations (without their addresses)",
    responses=problems(404, 409, 422),
)
async def get_municipality_invitations(
    principal: OperatorOrCoordinator, wired: Wired, code: CodePath
) -> InvitationList:
    allow(principal.acts_for(code))
    require_municipality(code)
    found = await outreach.invitations_of_municipality(wired.views(), code)
    return InvitationList(total=len(found), items=[InvitationView.of(i) for i in found])


# --- The outreach and the statistics ---------------------------------------------------


async def _network(wired: Wired, slug: str) -> None:
    async with wired.streams() as streams:
        await require_network(streams, slug)


@router.get(
    "/networks/{slug}/outreach/{year}",
    summary="The outreach of the list of 1 December of a year",
    description="Every municipality on the list: its areas, whether it is a member for the "
    "coming year, invited when, joined when, whether it joined while the offer was open, "
    "and whether its staff came to the offer's meeting. `status` filters the items; the "
    "totals are always of all.",
    responses=problems(404, 409, 422),
)
async def get_outreach(
    _: Operator,
    wired: Wired,
    slug: SlugPath,
    year: ListYearPath,
    status: Annotated[Status | None, Query(description="Only these.")] = None,
) -> OutreachView:
    await _network(wired, slug)
    report = await outreach.outreach_of_year(wired.views(), slug, year)
    return OutreachView.of(report, status)


@router.get(
    "/networks/{slug}/statistics",
    summary="The network's statistics: members, meetings, coverage of the lists",
    responses=problems(404, 409, 422),
)
async def get_statistics(_: Operator, wired: Wired, slug: SlugPath) -> StatisticsView:
    await _network(wired, slug)
    return StatisticsView.of(await outreach.network_statistics(wired.views(), slug))


@router.get(
    "/networks/{slug}/statistics.csv",
    summary="One table of the statistics as CSV, for spreadsheets",
    description="UTF-8 with a byte order mark, semicolons, decimal commas: Danish Excel "
    "opens it as it is.",
    response_class=Response,
    responses={
        **problems(404, 409, 422),
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
    },
)
async def get_statistics_csv(
    _: Operator,
    wired: Wired,
    slug: SlugPath,
    table: Annotated[Table, Query(description="Which table.")] = "members",
) -> Response:
    await _network(wired, slug)
    stats = await outreach.network_statistics(wired.views(), slug)
    return Response(
        statistics_table(stats, table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-{table}.csv"'},
    )
