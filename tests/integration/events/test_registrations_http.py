"""Registrations over HTTP: decisions, refusals (problem+json, nothing written), prices."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta

import asyncpg
import httpx

from services.kernel.clock import ManualClock
from tests.integration.events.conftest import (
    ScriptedCompleteness,
    ScriptedLookup,
    add_members,
    event_count,
    meeting_body,
    person,
)
from tests.support import auth
from tests.support.waiting import wait_until

PROBLEM = "application/problem+json"


async def schedule(client: httpx.AsyncClient, **overrides: object) -> str:
    response = await client.post("/meetings", json=meeting_body(**overrides))
    assert response.status_code == 201, response.text
    meeting_id: str = response.json()["meeting_id"]
    return meeting_id


async def refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool, url: str, body: object, status: int
) -> dict[str, object]:
    """POST that must be refused with ``status`` as problem+json, writing nothing."""
    before = await event_count(pool)
    response = await client.post(url, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, object] = response.json()
    assert problem["detail"], problem
    assert problem["detail_en"], problem
    assert problem["detail"] != problem["detail_en"], "Danish first, English beside it"
    assert await event_count(pool) == before, "nothing written"
    return problem


async def test_a_member_gets_a_seat_and_a_full_meeting_a_waiting_place(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    meeting = await schedule(client, seats=1)
    await add_members(pool, 2021, "101", "751")
    first = await client.post(f"/meetings/{meeting}/registrations", json=person(1, "101"))
    assert first.status_code == 201
    assert first.json() | {"registration_id": None} == {
        "registration_id": None,
        "meeting_id": meeting,
        "status": "confirmed",
        "basis": "member",
        "price_dkk": 0,
        "waiting_position": None,
    }
    second = await client.post(f"/meetings/{meeting}/registrations", json=person(2, "751"))
    assert second.status_code == 202
    assert (second.json()["status"], second.json()["waiting_position"]) == ("waitlisted", 1)


async def test_bad_registrations_are_refused_with_a_reason_and_write_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool, clock: ManualClock
) -> None:
    meeting = await schedule(client, seats=5, per_municipality_cap=1)
    await add_members(pool, 2021, "101", "751")
    url = f"/meetings/{meeting}/registrations"
    assert (await client.post(url, json=person(1, "101", "anne@aarhus.dk"))).status_code == 201

    twice = await refused(client, pool, url, person(2, "751", "ANNE@aarhus.dk"), 409)
    assert twice["type"] == "urn:kl:problem:already-registered"
    over_cap = await refused(client, pool, url, person(3, "101"), 409)
    assert over_cap["type"] == "urn:kl:problem:municipality-cap-reached"
    malformed = await refused(client, pool, url, person(4, "751", "ikke-en-mail"), 422)
    assert "email" in str(malformed["detail"])
    bad_code = await refused(client, pool, url, {**person(5), "municipality_code": "12"}, 422)
    assert "municipality_code" in str(bad_code["detail"])
    unknown = await refused(client, pool, "/meetings/meeting-nope/registrations", person(6), 404)
    assert unknown["type"] == "urn:kl:problem:meeting-not-found"

    clock.set(clock.now().replace(month=12, day=3, hour=13))
    late = await refused(client, pool, url, person(7, "751"), 409)
    assert late["type"] == "urn:kl:problem:registration-closed"
    assert "Tilmeldingsfristen" in str(late["detail"])


async def test_a_cancelled_meeting_refuses_registrations(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    meeting = await schedule(client)
    await add_members(pool, 2021, "101")
    cancelled = await client.post(f"/meetings/{meeting}/cancel", json={"reason": "Aflyst"})
    assert cancelled.status_code == 200
    assert cancelled.json()["cancelled"] is True
    problem = await refused(client, pool, f"/meetings/{meeting}/registrations", person(1), 409)
    assert problem["type"] == "urn:kl:problem:meeting-cancelled"


async def test_seats_cannot_be_lowered_below_zero_or_below_those_taken(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    meeting = await schedule(client, seats=3)
    await add_members(pool, 2021, "101", "147")
    for n, code in ((1, "101"), (2, "147")):
        await client.post(f"/meetings/{meeting}/registrations", json=person(n, code))
    await refused(client, pool, f"/meetings/{meeting}/seats", {"seats": -1}, 422)
    below = await refused(client, pool, f"/meetings/{meeting}/seats", {"seats": 1}, 409)
    assert below["type"] == "urn:kl:problem:seats-below-taken"


async def test_a_non_member_is_told_how_to_join_and_nothing_is_written(
    client: httpx.AsyncClient, pool: asyncpg.Pool, lookup: ScriptedLookup
) -> None:
    meeting = await schedule(client)
    problem = await refused(
        client, pool, f"/meetings/{meeting}/registrations", person(1, "461"), 403
    )
    assert problem["type"] == "urn:kl:problem:not-a-member"
    assert problem["network_name"] == "Kommunernes Netværk for Udsatte Boligområder"
    # The public path, never the membership service's internal address.
    assert problem["join_url"] == "/api/membership/networks/knub/memberships"
    assert "http" not in str(problem["detail"]) + str(problem["detail_en"])
    assert "Meld kommunen ind" in str(problem["detail"])
    assert problem["join_year"] == 2022
    assert lookup.asked == [], "the view, shown complete, answered alone"


async def test_a_view_that_cannot_be_shown_complete_asks_the_membership_service(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    lookup: ScriptedLookup,
    completeness: ScriptedCompleteness,
) -> None:
    meeting = await schedule(client)
    completeness.complete = False
    await refused(client, pool, f"/meetings/{meeting}/registrations", person(1, "461"), 403)
    assert lookup.asked == [("knub", 2021, "461"), ("knub", 2022, "461")]


async def test_a_guest_pays_the_guest_price(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    meeting = await schedule(client, guest_price_dkk=1250, next_year_members_free=False)
    response = await client.post(f"/meetings/{meeting}/registrations", json=person(1, "851"))
    assert response.status_code == 201
    assert (response.json()["basis"], response.json()["price_dkk"]) == ("guest", 1250)


async def test_join_then_register_the_view_is_empty_and_the_lookup_gives_the_free_seat(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    lookup: ScriptedLookup,
    completeness: ScriptedCompleteness,
) -> None:
    """The membership event has not arrived and the view cannot be shown complete in time:
    the lookup answers for it."""
    meeting = await schedule(client)
    completeness.complete = False
    assert await pool.fetchval("SELECT count(*) FROM membership_view") == 0
    lookup.active.add(("knub", 2022, "147"))
    response = await client.post(f"/meetings/{meeting}/registrations", json=person(1, "147"))
    assert response.status_code == 201, response.text
    assert (response.json()["basis"], response.json()["price_dkk"]) == ("next_year_offer", 0)
    source = await pool.fetchval(
        "SELECT source FROM membership_view WHERE year = 2022 AND municipality_code = '147'"
    )
    assert source == "lookup", "the answer is kept in the view"


async def test_an_unreachable_membership_service_gives_503_never_a_wrong_refusal(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    lookup: ScriptedLookup,
    completeness: ScriptedCompleteness,
) -> None:
    meeting = await schedule(client)
    completeness.complete = False
    lookup.down = True
    before = await event_count(pool)
    response = await client.post(f"/meetings/{meeting}/registrations", json=person(1, "147"))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["retry-after"]
    assert await event_count(pool) == before


async def test_an_idempotency_key_gives_the_first_answer_again_and_no_second_registration(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    meeting = await schedule(client)
    await add_members(pool, 2021, "101")
    headers = {"Idempotency-Key": "tilmelding-1"}
    url = f"/meetings/{meeting}/registrations"
    first = await client.post(url, json=person(1), headers=headers)
    again = await client.post(url, json=person(1), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post(url, json=person(2), headers=headers)
    assert other.status_code == 422


async def test_each_caller_has_its_own_idempotency_keys_and_the_records_name_nobody(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    meeting = await schedule(client)
    await add_members(pool, 2021, "101", "147")
    url = f"/meetings/{meeting}/registrations"
    key = {"Idempotency-Key": "tilmelding-1"}
    kbh = {**auth.headers("coordinator", "101"), **key}
    albertslund = {**auth.headers("coordinator", "147"), **key}
    mine = await client.post(url, json=person(1, "101"), headers=kbh)
    theirs = await client.post(url, json=person(2, "147"), headers=albertslund)
    assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
    assert theirs.json()["registration_id"] != mine.json()["registration_id"]
    again = await client.post(url, json=person(1, "101"), headers=kbh)
    assert (again.status_code, again.headers["idempotent-replayed"]) == (201, "true")
    assert again.json() == mine.json()

    stored = await pool.fetch("SELECT row_to_json(i)::text AS r FROM idempotency_keys i")
    assert len(stored) == 2
    for who in (person(1, "101"), person(2, "147")):
        for personal in (who["name"], who["email"]):
            assert all(str(personal).lower() not in r["r"].lower() for r in stored), personal


async def test_a_duplicate_shows_the_existing_registration_only_to_those_who_may_see_it(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    meeting = await schedule(client, seats=5)
    await add_members(pool, 2021, "101", "147")
    url = f"/meetings/{meeting}/registrations"
    anne = person(1, "101", "anne@aarhus.dk")
    first = await client.post(url, json=anne, headers=auth.headers("coordinator", "101"))
    assert first.status_code == 201, first.text
    existing = first.json()["registration_id"]

    probe = {**anne, "municipality_code": "147"}
    other = await client.post(url, json=probe, headers=auth.headers("coordinator", "147"))
    assert other.status_code == 409
    assert other.json()["type"] == "urn:kl:problem:already-registered"
    assert existing not in other.text, "another municipality's id is not told"
    assert "registration_id" not in other.json()

    for headers in (
        auth.OPERATOR,
        auth.headers("coordinator", "101"),
        auth.headers("participant", "101", "anne@aarhus.dk"),
    ):
        seen = await client.post(url, json=anne, headers=headers)
        assert seen.status_code == 409
        assert seen.json()["registration_id"] == existing


async def test_cancel_promote_reschedule_program_offer_and_attendance(
    client: httpx.AsyncClient, pool: asyncpg.Pool, clock: ManualClock
) -> None:
    meeting = await schedule(client, seats=1, next_year_members_free=False)
    await add_members(pool, 2021, "101", "147")
    a = (await client.post(f"/meetings/{meeting}/registrations", json=person(1, "101"))).json()
    b = (await client.post(f"/meetings/{meeting}/registrations", json=person(2, "147"))).json()
    cancel = await client.post(
        f"/meetings/{meeting}/registrations/{a['registration_id']}/cancel",
        json={"cancelled_by": "municipality"},
    )
    assert cancel.json() == {
        "registration_id": a["registration_id"],
        "status": "cancelled",
        "promoted": [b["registration_id"]],
    }
    program = await client.put(
        f"/meetings/{meeting}/program",
        json={"items": [{"starts_at": "2021-12-08T10:00:00", "title": "Velkomst"}]},
    )
    assert program.json()["program"][0]["starts_at"] == "2021-12-08T10:00:00+01:00"
    moved = await client.post(
        f"/meetings/{meeting}/reschedule",
        json={
            "starts_at": "2021-12-09T09:30:00",
            "ends_at": "2021-12-09T15:00:00",
            "registration_deadline": "2021-12-06T12:00:00",
        },
    )
    assert moved.status_code == 200
    assert moved.json()["venue_name"] == "KL-huset"
    offer = await client.post(f"/meetings/{meeting}/offer", json={"next_year_members_free": True})
    assert offer.json()["next_year_members_free"] is True
    more = await client.post(f"/meetings/{meeting}/seats", json={"seats": 2})
    assert more.json() == {"meeting_id": meeting, "seats": 2, "promoted": []}

    attendance_url = f"/meetings/{meeting}/registrations/{b['registration_id']}/attendance"
    early = await client.post(attendance_url, json={"attended": True})
    assert early.status_code == 409
    clock.advance(timedelta(days=21))
    recorded = await client.post(attendance_url, json={"attended": True})
    assert recorded.json() == {"registration_id": b["registration_id"], "attended": True}


async def test_the_lists_come_a_page_at_a_time_with_a_link_to_the_next(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    meeting = await schedule(client, seats=3)
    await add_members(pool, 2021, "101")
    url = f"/meetings/{meeting}/registrations"
    for n in range(7):
        assert (await client.post(url, json=person(n, "101"))).status_code in (201, 202)

    async def all_rows(path: str) -> list[dict[str, object]]:
        whole = await client.get(path, params={"limit": 500})
        assert "link" not in whole.headers
        rows: list[dict[str, object]] = whole.json()
        return rows

    everyone = await wait_until(lambda: _rows_if(all_rows(url), 7), what="7 participants")
    mine = await wait_until(
        lambda: _rows_if(all_rows("/municipalities/101/registrations"), 7), what="7 of 101"
    )
    for path, whole in ((url, everyone), ("/municipalities/101/registrations", mine)):
        seen: list[dict[str, object]] = []
        sizes = []
        next_url: str | None = f"{path}?limit=3"
        while next_url is not None:
            answer = await client.get(next_url)
            assert answer.status_code == 200, answer.text
            seen += answer.json()
            sizes.append(len(answer.json()))
            link = answer.headers.get("link")
            if link is None:
                next_url = None
            else:
                target, rel = link.split(";")
                assert rel.strip() == 'rel="next"'
                query = target.strip()[1:-1]
                assert query.startswith("?limit=3&cursor="), "relative: the query only"
                next_url = path + query
        assert sizes == [3, 3, 1]
        assert seen == whole, "every row once, in the order of the whole list"

    bad = await client.get(url, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400
    assert bad.json()["type"] == "urn:kl:problem:invalid-cursor"
    too_many = await client.get(url, params={"limit": 501})
    assert too_many.status_code == 422
    assert len((await client.get(url)).json()) == 7, "the default page holds a short list"


async def _rows_if(
    rows: Awaitable[list[dict[str, object]]], count: int
) -> list[dict[str, object]] | None:
    found = await rows
    return found if len(found) == count else None
