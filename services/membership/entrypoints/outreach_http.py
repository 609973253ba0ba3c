"""The outreach's HTTP API: the yearly area lists, invitations, the outreach and statistics.

Routes on a module-level router; what they need comes through ``Depends`` from the
:class:`Outreach` the service's bootstrap installs (:func:`install_outreach`). Refusals are
the domain's own errors, each with its texts, rendered as problem+json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from services.kernel import idempotency
from services.kernel.auth import Operator, OperatorOrCoordinator, allow
from services.kernel.clock import Clock
from services.kernel.eventstore import EventStore
from services.kernel.http import ProblemError, problem_response
from services.kernel.privacy import Vault
from services.membership.adapters.outreach_streams import PostgresOutreachStreams
from services.membership.adapters.outreach_views import PostgresOutreachViews
from services.membership.domain.invitations import InvitationRequest
from services.membership.domain.model import Contact
from services.membership.domain.municipalities import municipality
from services.membership.domain.outreach_errors import (
    AreaListInvalidError,
    InvitationsInvalidError,
    OfferMeetingError,
    OutreachError,
    UnknownAreaListError,
)
from services.membership.entrypoints.csv_files import Table, read_area_list, statistics_table
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
from services.membership.entrypoints.schemas import SLUG_PATTERN, Problem
from services.membership.entrypoints.statistics_schemas import OutreachView, StatisticsView, Status
from services.membership.service_layer import area_lists, invitations, outreach
from services.membership.service_layer.handlers import require_network

STATUS_OF: dict[type[OutreachError], int] = {
    AreaListInvalidError: 422,
    InvitationsInvalidError: 422,
    OfferMeetingError: 422,
    UnknownAreaListError: 404,
}
"""HTTP status of each refusal; any other is a conflict with the state (409)."""


@dataclass(frozen=True)
class Outreach:
    """What the routes need: the pool, the event store, the vault (to seal contacts)."""

    pool: Callable[[], asyncpg.Pool]
    store: EventStore
    vault: Vault
    clock: Clock

    def streams(self, conn: asyncpg.Connection) -> PostgresOutreachStreams:
        return PostgresOutreachStreams(conn, self.store, self.vault)

    def views(self) -> PostgresOutreachViews:
        return PostgresOutreachViews(self.pool())


def _outreach(request: Request) -> Outreach:
    found: Outreach = request.app.state.outreach
    return found


Wiring = Annotated[Outreach, Depends(_outreach)]
SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, examples=["knub"])]
CodePath = Annotated[str, Path(pattern=r"^\d{3}$", examples=["461"])]
ListDatePath = Annotated[date, Path(examples=["2021-12-01"])]
ListYearPath = Annotated[int, Path(ge=1900, le=2999, examples=[2021])]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Makes a retried POST safe: the same key returns the first answer.",
    ),
]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": Problem, "content": {"application/problem+json": {}}} for s in (404, 409, 422)
}
CSV_EXAMPLE = (
    "list_date,category,area,municipality_code,municipality\n"
    "2021-12-01,parallelsamfund,Vollsmose,461,Odense\n"
)

router = APIRouter(tags=["outreach"])


def install_outreach(app: FastAPI, wiring: Outreach) -> None:
    """Add the outreach's routes and its refusals to the service's app."""
    app.state.outreach = wiring
    app.include_router(router)

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OutreachError)
        status = STATUS_OF.get(type(exc), 409)
        return problem_response(
            status, exc.code, exc.title, exc.detail_da, exc.detail_en, **exc.extra()
        )

    app.add_exception_handler(OutreachError, refused)


def _unknown_municipality(code: str) -> ProblemError:
    return ProblemError(
        404,
        "unknown-municipality",
        "Ukendt kommunekode",
        f"Kommunekoden '{code}' findes ikke; se GET /municipalities.",
        f"There is no municipality with code '{code}'; see GET /municipalities.",
    )


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
    responses={**PROBLEMS, 200: {"description": "The same list again: nothing changed"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
        }
    },
)
async def import_area_list(
    _: Operator,
    wiring: Wiring,
    request: Request,
    partial: Annotated[
        bool, Query(description="The list is known to hold only part of the official lists.")
    ] = False,
) -> JSONResponse:
    rows = read_area_list(await request.body())
    async with wiring.pool().acquire() as conn:
        result = await area_lists.import_area_list(
            wiring.streams(conn), wiring.clock, rows, partial=partial
        )
    body = AreaListImported.model_validate(
        {**AreaListSummary.fields_of(result.area_list), "changed": result.changed}
    )
    return JSONResponse(body.model_dump(mode="json"), 201 if result.changed else 200)


@router.get("/area-lists", summary="The imported lists (public)")
async def get_area_lists(wiring: Wiring) -> AreaListSummaries:
    lists = await wiring.views().area_lists()
    return AreaListSummaries(total=len(lists), items=[AreaListSummary.of(a) for a in lists])


@router.get(
    "/area-lists/{list_date}", summary="One list with its rows (public)", responses=PROBLEMS
)
async def get_area_list(wiring: Wiring, list_date: ListDatePath) -> AreaListView:
    for area_list in await wiring.views().area_lists():
        if area_list.list_date == list_date:
            return AreaListView.of(area_list)
    raise UnknownAreaListError(list_date)


@router.get(
    "/municipalities/{code}/areas",
    summary="A municipality's areas on the lists (public)",
    responses=PROBLEMS,
)
async def get_municipality_areas(wiring: Wiring, code: CodePath) -> MunicipalityAreas:
    if municipality(code) is None:
        raise _unknown_municipality(code)
    found = await outreach.areas_of_municipality(wiring.views(), code)
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
    responses=PROBLEMS,
)
async def post_invitations(
    principal: Operator,
    wiring: Wiring,
    slug: SlugPath,
    body: InvitationsRequest,
    key: IdempotencyKey = None,
) -> JSONResponse:
    requests = [
        InvitationRequest(e.municipality_code, Contact(e.contact_name or "", str(e.contact_email)))
        for e in body.invitations
    ]
    async with wiring.pool().acquire() as conn, conn.transaction():
        scope = idempotency.scope("membership:invite", principal.subject)
        request_hash = idempotency.request_hash({"slug": slug, **body.model_dump(mode="json")})
        if key is not None:
            stored = await idempotency.begin(conn, scope, key, request_hash)
            if stored is not None:
                replayed = {"Idempotent-Replayed": "true"}
                return JSONResponse(stored.body, stored.status, headers=replayed)
        done = await invitations.invite(
            wiring.streams(conn),
            PostgresOutreachViews(conn),
            wiring.clock,
            network_slug=slug,
            list_date=body.list_date,
            requests=requests,
            meeting_id=body.meeting_id,
            reminder=body.reminder,
        )
        answer = InvitationsAnswer.of(done).model_dump(mode="json")
        if key is not None:  # the answer names municipalities and outcomes, nobody's address
            await idempotency.remember(conn, scope, key, request_hash, 200, body=answer)
    return JSONResponse(answer, 200)


@router.get(
    "/municipalities/{code}/invitations",
    summary="A municipality's invitations (without their addresses)",
    responses=PROBLEMS,
)
async def get_municipality_invitations(
    principal: OperatorOrCoordinator, wiring: Wiring, code: CodePath
) -> InvitationList:
    allow(principal.acts_for(code))
    if municipality(code) is None:
        raise _unknown_municipality(code)
    found = await outreach.invitations_of_municipality(wiring.views(), code)
    return InvitationList(total=len(found), items=[InvitationView.of(i) for i in found])


# --- The outreach and the statistics ---------------------------------------------------


async def _network(wiring: Wiring, slug: str) -> None:
    async with wiring.pool().acquire() as conn:
        await require_network(wiring.streams(conn), slug)


@router.get(
    "/networks/{slug}/outreach/{year}",
    summary="The outreach of the list of 1 December of a year",
    description="Every municipality on the list: its areas, whether it is a member for the "
    "coming year, invited when, joined when, whether it joined while the offer was open, "
    "and whether its staff came to the offer's meeting. `status` filters the items; the "
    "totals are always of all.",
    responses=PROBLEMS,
)
async def get_outreach(
    _: Operator,
    wiring: Wiring,
    slug: SlugPath,
    year: ListYearPath,
    status: Annotated[Status | None, Query(description="Only these.")] = None,
) -> OutreachView:
    await _network(wiring, slug)
    report = await outreach.outreach_of_year(wiring.views(), slug, year)
    return OutreachView.of(report, status)


@router.get(
    "/networks/{slug}/statistics",
    summary="The network's statistics: members, meetings, coverage of the lists",
    responses=PROBLEMS,
)
async def get_statistics(_: Operator, wiring: Wiring, slug: SlugPath) -> StatisticsView:
    await _network(wiring, slug)
    return StatisticsView.of(await outreach.network_statistics(wiring.views(), slug))


@router.get(
    "/networks/{slug}/statistics.csv",
    summary="One table of the statistics as CSV, for spreadsheets",
    description="UTF-8 with a byte order mark, semicolons, decimal commas: Danish Excel "
    "opens it as it is.",
    response_class=Response,
    responses={
        **PROBLEMS,
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
    },
)
async def get_statistics_csv(
    _: Operator,
    wiring: Wiring,
    slug: SlugPath,
    table: Annotated[Table, Query(description="Which table.")] = "members",
) -> Response:
    await _network(wiring, slug)
    stats = await outreach.network_statistics(wiring.views(), slug)
    return Response(
        statistics_table(stats, table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-{table}.csv"'},
    )
