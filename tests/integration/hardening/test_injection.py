"""Hostile text in any field is stored verbatim and returned as JSON, or refused with a 4xx.

SQL-ish strings, HTML and script, template syntax and odd Unicode are data: they come back
exactly as sent, inside JSON (so a page that shows them escapes them). Control characters,
lone surrogates and text over a field's length are refused with 422 problem+json. No input
gets a 5xx, and no error shows the internals.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from services.membership.domain.municipalities import MUNICIPALITIES
from tests.integration.hardening.conftest import (
    JOIN,
    MEETING,
    PARTICIPANT,
    Api,
    join,
    schedule_meeting,
)
from tests.integration.hardening.fuzzing import problem_rule
from tests.support.waiting import wait_until

KEPT = [
    "Robert'); DROP TABLE events;--",
    "' OR '1'='1' --",
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}} ${jndi:ldap://127.0.0.1/a} %s%n",
    '{"$gt": ""}',
    "Søren Ærø 😀 \u202eevil\u202c a\u200bb e\u0301",
    "line one\nline two\ttab",
]
"""Stored and returned exactly as sent."""

REFUSED = [
    "a\x00b",
    "bell\x07",
    "colour\x1b[31m",
    "lone \ud800 surrogate",
    "x" * 10_000,
]
"""Refused with 422: control characters, a lone surrogate, longer than any text field."""


def as_json(body: dict[str, Any]) -> bytes:
    # json with ensure_ascii escapes a lone surrogate as \\ud800, as a hostile client would.
    return json.dumps(body).encode()


async def post(api: Api, path: str, body: dict[str, Any], method: str = "POST") -> httpx.Response:
    return await api.client.request(
        method, path, content=as_json(body), headers={"content-type": "application/json"}
    )


def assert_safe(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert problem_rule(response) is None, problem_rule(response)


async def assert_each_value_kept_or_refused(
    write: Callable[[int, str], Awaitable[httpx.Response]],
    read: Callable[[int, httpx.Response], Awaitable[Any]],
) -> None:
    """``write(i, value)`` sends the i-th value; ``read(i, answer)`` reads the field back."""
    for i, value in enumerate(KEPT):
        r = await write(i, value)
        assert_safe(r)
        assert r.status_code in (200, 201, 202), (value, r.text)
        assert r.headers["content-type"] == "application/json"
        assert await read(i, r) == value
    for j, value in enumerate(REFUSED, start=len(KEPT)):
        r = await write(j, value)
        assert_safe(r)
        assert r.status_code == 422, (value[:30], r.text)


# --- membership ------------------------------------------------------------------------

CODES = [m.code for m in MUNICIPALITIES]


@pytest.mark.parametrize("field", ["contact_name", "ean"])
async def test_membership_join_keeps_or_refuses_hostile_text(membership: Api, field: str) -> None:
    async def write(i: int, value: str) -> httpx.Response:
        body = {**JOIN, "municipality_code": CODES[i], field: value}
        return await post(membership, "/networks/knub/memberships", body)

    async def read(_: int, r: httpx.Response) -> Any:
        got = await membership.client.get(f"/memberships/{r.json()['membership_id']}")
        return got.json()[field]

    if field == "ean":  # an EAN is 13 digits with a check digit: all of it is refused
        for i, value in enumerate(KEPT + REFUSED):
            r = await write(i, value)
            assert_safe(r)
            assert r.status_code == 422
        return
    await assert_each_value_kept_or_refused(write, read)


async def test_membership_cancel_reason_keeps_or_refuses_hostile_text(membership: Api) -> None:
    ids = [await join(membership, municipality_code=code) for code in CODES[:13]]

    async def write(i: int, value: str) -> httpx.Response:
        return await post(membership, f"/memberships/{ids[i]}/cancel", {"reason": value})

    async def read(i: int, _: httpx.Response) -> Any:
        return (await membership.client.get(f"/memberships/{ids[i]}")).json()["cancel_reason"]

    await assert_each_value_kept_or_refused(write, read)


async def test_membership_contact_change_keeps_or_refuses_hostile_text(membership: Api) -> None:
    membership_id = await join(membership)

    async def write(_: int, value: str) -> httpx.Response:
        body = {"contact_name": value, "contact_email": "jens.nielsen@kk.dk"}
        return await post(membership, f"/memberships/{membership_id}/contact", body, "PUT")

    async def read(_: int, __: httpx.Response) -> Any:
        return (await membership.client.get(f"/memberships/{membership_id}")).json()["contact_name"]

    await assert_each_value_kept_or_refused(write, read)


@pytest.mark.parametrize("field", ["name", "description"])
async def test_membership_network_keeps_or_refuses_hostile_text(
    membership: Api, field: str
) -> None:
    async def write(i: int, value: str) -> httpx.Response:
        body = {"slug": f"net-{i}", "name": "Net", "description": "Om", "yearly_fee_dkk": 1}
        return await post(membership, "/networks", {**body, field: value})

    async def read(i: int, _: httpx.Response) -> Any:
        networks = (await membership.client.get("/networks")).json()["items"]
        return next(n[field] for n in networks if n["slug"] == f"net-{i}")

    await assert_each_value_kept_or_refused(write, read)


# --- events ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["title", "description", "venue_name", "venue_address"])
async def test_events_meeting_keeps_or_refuses_hostile_text(events: Api, field: str) -> None:
    async def write(i: int, value: str) -> httpx.Response:
        return await post(events, "/meetings", {**MEETING, "slug": f"m-{i}", field: value})

    async def read(i: int, _: httpx.Response) -> Any:
        return (await events.client.get(f"/meetings/m-{i}")).json()[field]

    await assert_each_value_kept_or_refused(write, read)


@pytest.mark.parametrize("field", ["title", "speaker"])
async def test_events_program_keeps_or_refuses_hostile_text(events: Api, field: str) -> None:
    meeting_id = await schedule_meeting(events)

    async def write(_: int, value: str) -> httpx.Response:
        item = {"starts_at": "2021-12-08T10:00:00", "title": "Velkomst", "speaker": None}
        body = {"items": [{**item, field: value}]}
        return await post(events, f"/meetings/{meeting_id}/program", body, "PUT")

    async def read(_: int, r: httpx.Response) -> Any:
        return r.json()["program"][0][field]

    await assert_each_value_kept_or_refused(write, read)


async def test_events_cancel_reason_keeps_or_refuses_hostile_text(events: Api) -> None:
    ids = [await schedule_meeting(events, slug=f"m-{i}") for i in range(13)]

    async def write(i: int, value: str) -> httpx.Response:
        return await post(events, f"/meetings/{ids[i]}/cancel", {"reason": value})

    async def read(i: int, _: httpx.Response) -> Any:
        return (await events.client.get(f"/meetings/{ids[i]}")).json()["cancel_reason"]

    await assert_each_value_kept_or_refused(write, read)


@pytest.mark.parametrize("field", ["name", "job_title", "note"])
async def test_events_registration_keeps_or_refuses_hostile_text(events: Api, field: str) -> None:
    meeting_id = await schedule_meeting(events, seats=100)

    async def write(i: int, value: str) -> httpx.Response:
        body = {**PARTICIPANT, "email": f"p{i}@aarhus.dk", field: value}
        return await post(events, f"/meetings/{meeting_id}/registrations", body)

    async def read(_: int, r: httpx.Response) -> Any:
        registration_id = r.json()["registration_id"]

        async def row() -> dict[str, Any] | None:  # the participant list is a projection
            rows = (await events.client.get(f"/meetings/{meeting_id}/registrations")).json()
            return next((p for p in rows if p["registration_id"] == registration_id), None)

        found = await wait_until(row, what="the registration in the participant list")
        return found[field]

    await assert_each_value_kept_or_refused(write, read)


# --- ids in paths ------------------------------------------------------------------------

PATH_VALUES = [*KEPT, "a\x00b", "x" * 3000, "..%2F..%2Fetc%2Fpasswd", "%FF%FE"]


@pytest.mark.parametrize(
    "template",
    [
        "/memberships/{}",
        "/networks/{}/roster/2022",
        "/municipalities/{}/memberships",
        "/networks/knub/memberships/2022/{}",
    ],
)
async def test_membership_ids_in_paths_never_cause_a_server_error(
    membership: Api, template: str
) -> None:
    for value in PATH_VALUES:
        r = await membership.client.get(template.format(quote(value, safe="%")))
        assert_safe(r)
        assert r.status_code in (404, 422), (value[:30], r.text)


@pytest.mark.parametrize(
    "template",
    [
        "/meetings/{}",
        "/meetings/{}/availability",
        "/meetings/{}/registrations",
        "/municipalities/{}/registrations",
    ],
)
async def test_events_ids_in_paths_never_cause_a_server_error(events: Api, template: str) -> None:
    for value in PATH_VALUES:
        r = await events.client.get(template.format(quote(value, safe="%")))
        assert_safe(r)
        assert r.status_code in (404, 422), (value[:30], r.text)


async def test_events_registration_ids_in_paths_never_cause_a_server_error(events: Api) -> None:
    meeting_id = await schedule_meeting(events)
    for value in PATH_VALUES:
        path = f"/meetings/{meeting_id}/registrations/{quote(value, safe='%')}/cancel"
        r = await events.client.post(path, json={"cancelled_by": "participant"})
        assert_safe(r)
        assert r.status_code in (404, 409, 422), (value[:30], r.text)


@pytest.mark.parametrize(
    "template", ["/recipients/{}/notifications", "/municipalities/{}/notifications"]
)
async def test_notifications_feeds_never_cause_a_server_error(
    notifications: Api, template: str
) -> None:
    values = [*PATH_VALUES, *(v + "@kommune.dk" for v in PATH_VALUES)]
    for value in values:
        r = await notifications.client.get(template.format(quote(value, safe="%")))
        assert_safe(r)
        assert r.status_code in (200, 404, 422), (value[:30], r.text)
        if r.status_code == 200:
            assert r.json()["items"] == []


# --- numbers and times at the edges ------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"starts_at": "0001-01-01T00:00:00+05:00"},
        {"ends_at": "9999-12-31T23:59:59-05:00"},
        {"registration_deadline": "1899-12-31T23:00:00"},
        {"per_municipality_cap": 2**70},
        {"guest_price_dkk": 2**64},
        {"seats": -(2**63)},
    ],
    ids=["year-1", "year-9999", "year-1899", "huge-cap", "huge-price", "huge-negative-seats"],
)
async def test_events_refuses_times_and_numbers_out_of_range(
    events: Api, overrides: dict[str, Any]
) -> None:
    r = await post(events, "/meetings", {**MEETING, **overrides})
    assert_safe(r)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == list(overrides)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/networks", {"slug": "big", "name": "N", "description": "D", "yearly_fee_dkk": 2**70}),
        ("/networks/knub/memberships", {**JOIN, "year": 2**70}),
        ("/networks/knub/memberships", {**JOIN, "year": -(2**70)}),
    ],
    ids=["huge-fee", "huge-year", "huge-negative-year"],
)
async def test_membership_refuses_numbers_out_of_range(
    membership: Api, path: str, body: dict[str, Any]
) -> None:
    r = await membership.client.post(path, json=body, headers={"Idempotency-Key": "k-1"})
    assert_safe(r)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("offset", [2**31, 2**63, 2**70])
async def test_pages_far_beyond_the_end_are_refused_not_a_server_error(
    membership: Api, notifications: Api, offset: int
) -> None:
    for api, path in [
        (membership, "/municipalities/101/memberships"),
        (notifications, "/municipalities/101/notifications"),
        (notifications, "/deliveries"),
    ]:
        r = await api.client.get(path, params={"offset": offset})
        assert_safe(r)
        assert r.status_code == 422, r.text
