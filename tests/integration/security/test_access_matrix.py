"""Who may do what: every endpoint of every service x six callers, from ONE matrix.

The matrix is also checked against each app's OpenAPI: a route without a row fails, and a
row's "public" must agree with whether the route asks for a token. ``allow`` means the
access rules let the request through (any answer but 401/403, and never a 5xx); a denial is
exactly 401 (no or bad token) or 403 (a token without the right), with nothing written.
docs/security.md holds the same matrix as a table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from services.kernel.auth import routes_requiring_roles
from tests.integration.hardening.conftest import JOIN, MEETING, PARTICIPANT
from tests.integration.security.conftest import OWN, OWN_EMAIL, World, callers

A = "allow"
CALLERS = (
    "none",
    "operator",
    "coordinator_own",
    "coordinator_other",
    "participant_own",
    "participant_other",
)
Expect = tuple[str | int, ...]

PUBLIC: Expect = (A, A, A, A, A, A)
OPERATOR: Expect = (401, A, 403, 403, 403, 403)
MUNICIPALITY: Expect = (401, A, A, 403, 403, 403)
"""Operators, and the coordinator of the municipality concerned."""
PERSON_OR_MUNICIPALITY: Expect = (401, A, A, 403, A, 403)
"""Also the participant concerned (own e-mail, own municipality)."""
PERSON: Expect = (401, A, 403, 403, A, 403)
"""Operators and the person concerned."""

Build = Callable[[World], Any]


@dataclass(frozen=True)
class Row:
    service: str
    method: str
    route: str
    expect: Expect
    path: Build
    body: Build | None = None


def fixed(path: str) -> Build:
    return lambda _: path


MEMBERSHIP_ROWS = [
    Row("membership", "GET", "/networks", PUBLIC, fixed("/networks")),
    Row(
        "membership",
        "POST",
        "/networks",
        OPERATOR,
        fixed("/networks"),
        lambda _: {"slug": "klimanet", "name": "Klima", "description": "K", "yearly_fee_dkk": 1},
    ),
    Row(
        "membership",
        "POST",
        "/networks/{slug}/memberships",
        MUNICIPALITY,
        fixed("/networks/knub/memberships"),
        lambda _: {**JOIN, "municipality_code": OWN},
    ),
    Row(
        "membership",
        "GET",
        "/memberships/{membership_id}",
        MUNICIPALITY,
        lambda w: f"/memberships/{w.membership_id}",
    ),
    Row(
        "membership",
        "PUT",
        "/memberships/{membership_id}/contact",
        MUNICIPALITY,
        lambda w: f"/memberships/{w.membership_id}/contact",
        lambda _: {"contact_name": "Jens Nielsen", "contact_email": "jens.nielsen@aarhus.dk"},
    ),
    Row(
        "membership",
        "POST",
        "/memberships/{membership_id}/renew",
        MUNICIPALITY,
        lambda w: f"/memberships/{w.membership_id}/renew",
    ),
    Row(
        "membership",
        "POST",
        "/memberships/{membership_id}/cancel",
        MUNICIPALITY,
        lambda w: f"/memberships/{w.membership_id}/cancel",
        lambda _: {"reason": "Budget"},
    ),
    Row(
        "membership",
        "GET",
        "/networks/{slug}/memberships/{year}/{municipality_code}",
        PUBLIC,
        fixed(f"/networks/knub/memberships/2022/{OWN}"),
    ),
    Row(
        "membership",
        "GET",
        "/networks/{slug}/roster/{year}",
        OPERATOR,
        fixed("/networks/knub/roster/2022"),
    ),
    Row("membership", "GET", "/municipalities", PUBLIC, fixed("/municipalities")),
    Row(
        "membership",
        "GET",
        "/municipalities/{code}/memberships",
        MUNICIPALITY,
        fixed(f"/municipalities/{OWN}/memberships"),
    ),
    # The outreach: the lists are public data; importing, inviting and the figures are KL's.
    Row("membership", "POST", "/area-lists", OPERATOR, fixed("/area-lists")),
    Row("membership", "GET", "/area-lists", PUBLIC, fixed("/area-lists")),
    Row("membership", "GET", "/area-lists/{list_date}", PUBLIC, fixed("/area-lists/2021-12-01")),
    Row(
        "membership",
        "GET",
        "/municipalities/{code}/areas",
        PUBLIC,
        fixed(f"/municipalities/{OWN}/areas"),
    ),
    Row(
        "membership",
        "POST",
        "/networks/{slug}/invitations",
        OPERATOR,
        fixed("/networks/knub/invitations"),
        lambda _: {
            "list_date": "2021-12-01",
            "invitations": [
                {"municipality_code": OWN, "contact_email": "kontakt@aarhus.example.dk"}
            ],
        },
    ),
    Row(
        "membership",
        "GET",
        "/municipalities/{code}/invitations",
        MUNICIPALITY,
        fixed(f"/municipalities/{OWN}/invitations"),
    ),
    Row(
        "membership",
        "GET",
        "/networks/{slug}/outreach/{year}",
        OPERATOR,
        fixed("/networks/knub/outreach/2021"),
    ),
    Row(
        "membership",
        "GET",
        "/networks/{slug}/statistics",
        OPERATOR,
        fixed("/networks/knub/statistics"),
    ),
    Row(
        "membership",
        "GET",
        "/networks/{slug}/statistics.csv",
        OPERATOR,
        fixed("/networks/knub/statistics.csv"),
    ),
]

EVENTS_ROWS = [
    Row("events", "POST", "/meetings", OPERATOR, fixed("/meetings"), lambda _: MEETING),
    Row("events", "GET", "/meetings", PUBLIC, fixed("/meetings")),
    Row("events", "GET", "/meetings/{meeting_id}", PUBLIC, lambda w: f"/meetings/{w.meeting_id}"),
    Row(
        "events",
        "PUT",
        "/meetings/{meeting_id}/program",
        OPERATOR,
        lambda w: f"/meetings/{w.meeting_id}/program",
        lambda _: {"items": [{"starts_at": "2021-12-08T10:00:00", "title": "Velkomst"}]},
    ),
    Row(
        "events",
        "POST",
        "/meetings/{meeting_id}/reschedule",
        OPERATOR,
        lambda w: f"/meetings/{w.meeting_id}/reschedule",
        lambda _: {
            "starts_at": "2021-12-09T10:00:00",
            "ends_at": "2021-12-09T15:30:00",
            "registration_deadline": "2021-12-06T12:00:00",
        },
    ),
    Row(
        "events",
        "POST",
        "/meetings/{meeting_id}/seats",
        OPERATOR,
        lambda w: f"/meetings/{w.meeting_id}/seats",
        lambda _: {"seats": 5},
    ),
    Row(
        "events",
        "POST",
        "/meetings/{meeting_id}/offer",
        OPERATOR,
        lambda w: f"/meetings/{w.meeting_id}/offer",
        lambda _: {"next_year_members_free": False},
    ),
    Row(
        "events",
        "POST",
        "/meetings/{meeting_id}/registrations",
        PERSON_OR_MUNICIPALITY,
        lambda w: f"/meetings/{w.meeting_id}/registrations",
        lambda _: PARTICIPANT,
    ),
    Row(
        "events",
        "GET",
        "/meetings/{meeting_id}/registrations",
        OPERATOR,
        lambda w: f"/meetings/{w.meeting_id}/registrations",
    ),
    Row(
        "events",
        "POST",
        "/meetings/{meeting_id}/registrations/{registration_id}/attendance",
        OPERATOR,
        lambda w: f"/meetings/{w.meeting_id}/registrations/{w.registration_id}/attendance",
        lambda _: {"attended": True},
    ),
    Row(
        "events",
        "POST",
        "/meetings/{meeting_id}/registrations/{registration_id}/cancel",
        PERSON_OR_MUNICIPALITY,
        lambda w: f"/meetings/{w.meeting_id}/registrations/{w.registration_id}/cancel",
        lambda _: {},
    ),
    Row(
        "events",
        "GET",
        "/meetings/{meeting_id}/availability",
        PUBLIC,
        lambda w: f"/meetings/{w.meeting_id}/availability",
    ),
    # An unknown meeting: the stream of a known one never ends, and 404 shows it is public.
    Row(
        "events",
        "GET",
        "/meetings/{meeting_id}/availability/stream",
        PUBLIC,
        fixed("/meetings/meeting-unknown/availability/stream"),
    ),
    Row(
        "events",
        "GET",
        "/municipalities/{code}/registrations",
        MUNICIPALITY,
        fixed(f"/municipalities/{OWN}/registrations"),
    ),
    Row(
        "events",
        "POST",
        "/meetings/{meeting_id}/cancel",
        OPERATOR,
        lambda w: f"/meetings/{w.meeting_id}/cancel",
        lambda _: {"reason": "Aflyst"},
    ),
    # A person the vault never knew: the operator gets 404, nobody in the world is erased.
    Row(
        "events",
        "POST",
        "/persons/erasures",
        OPERATOR,
        fixed("/persons/erasures"),
        lambda _: {"person_id": "person-" + "0" * 32},
    ),
]

NOTIFICATIONS_ROWS = [
    Row(
        "notifications",
        "GET",
        "/recipients/{email}/notifications",
        PERSON,
        fixed(f"/recipients/{OWN_EMAIL}/notifications"),
    ),
    Row(
        "notifications",
        "GET",
        "/municipalities/{code}/notifications",
        MUNICIPALITY,
        fixed(f"/municipalities/{OWN}/notifications"),
    ),
    Row("notifications", "GET", "/deliveries", OPERATOR, fixed("/deliveries")),
]

EVERY_SERVICE_ROWS = [
    Row(service, "GET", route, expect, fixed(route))
    for service in ("membership", "events", "notifications")
    for route, expect in (
        ("/healthz", PUBLIC),
        ("/readyz", PUBLIC),
        ("/metrics", PUBLIC),
        ("/admin/dead-letters", OPERATOR),
    )
]

MATRIX = MEMBERSHIP_ROWS + EVENTS_ROWS + NOTIFICATIONS_ROWS + EVERY_SERVICE_ROWS


async def test_the_matrix_covers_every_route_of_every_service(world: World) -> None:
    for name in ("membership", "events", "notifications"):
        app = world.service(name).app
        documented = {
            (method.upper(), path)
            for path, operations in app.openapi()["paths"].items()
            for method in operations
        }
        rows = {(r.method, r.route): r for r in MATRIX if r.service == name}
        assert documented == set(rows), f"{name}: routes and matrix rows differ"
        for method, path, roles in routes_requiring_roles(app):
            if (method, path) not in rows:
                continue
            public = rows[(method, path)].expect == PUBLIC
            assert public == (roles is None), f"{name} {method} {path}: public is {public}"
            operation = app.openapi()["paths"][path][method.lower()]
            if not public:  # documented: the bearer scheme, 401 and 403
                assert operation.get("security") == [{"bearer": []}], f"{name} {method} {path}"
                assert {"401", "403"} <= set(operation["responses"]), f"{name} {method} {path}"


@pytest.mark.parametrize("row", MATRIX, ids=lambda r: f"{r.service} {r.method} {r.route}")
async def test_each_caller_is_allowed_or_refused_as_the_matrix_says(world: World, row: Row) -> None:
    service = world.service(row.service)
    path = row.path(world)
    body = row.body(world) if row.body is not None else None
    for caller, expected in zip(CALLERS, row.expect, strict=True):
        before = await service.event_count()
        response = await service.client.request(
            row.method, path, json=body, headers=callers()[caller]
        )
        status = response.status_code
        where = f"{row.method} {path} as {caller}: {status} {response.text[:300]}"
        if expected == A:
            assert status not in (401, 403), where
            assert status < 500, where
            continue
        assert status == expected, where
        assert response.headers["content-type"].startswith("application/problem+json"), where
        assert await service.event_count() == before, f"{where}: something was written"
        if status == 401:
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
