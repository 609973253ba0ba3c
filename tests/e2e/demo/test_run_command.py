"""The README's run command: the whole system with the seed's demo. A second run leaves the
demo as the first run and its users left it; ``--reset-demo`` brings back the seed's state."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.demo.conftest import EVENTS, MEETING, MEMBERSHIP, OFFSET, WEB, Running, running
from tests.support.waiting import wait_until


async def event_counts(env: dict[str, str]) -> tuple[int, int]:
    membership = await asyncpg.connect(env["MEMBERSHIP_DATABASE_URL"])
    events = await asyncpg.connect(env["EVENTS_DATABASE_URL"])
    try:
        return (
            await membership.fetchval("SELECT count(*) FROM events"),
            await events.fetchval("SELECT count(*) FROM events"),
        )
    finally:
        await membership.close()
        await events.close()


State = tuple[str, int, dict[str, str]]
CHANGED: State = (
    "cancelled",
    60,
    {"751": "confirmed", "101": "confirmed", "461": "cancelled", "851": "confirmed"},
)
SEEDED: State = (
    "active",
    80,
    {"751": "confirmed", "101": "confirmed", "461": "confirmed", "851": "confirmed"},
)


async def demo_state(http: httpx.AsyncClient) -> State:
    """Odense's 2021 membership status, the meeting's seats, registration status by code."""
    status = (await http.get(f"{MEMBERSHIP}/networks/knub/memberships/2021/461")).json()
    meeting = (await http.get(f"{EVENTS}/meetings/{MEETING}")).json()
    rows = (await http.get(f"{EVENTS}/meetings/{MEETING}/registrations")).json()
    return status["status"], meeting["seats"], {r["municipality_code"]: r["status"] for r in rows}


async def change_the_demo(http: httpx.AsyncClient) -> None:
    """What a person trying the system does: Odense leaves, its participant cancels, and
    the meeting moves to a smaller room."""
    r = await http.post(
        f"{MEMBERSHIP}/memberships/membership-knub-2021-461/cancel",
        json={"reason": "Kommunen udtræder"},
    )
    assert r.status_code == 200, r.text
    rows = (await http.get(f"{EVENTS}/meetings/{MEETING}/registrations")).json()
    odense = next(r["registration_id"] for r in rows if r["municipality_code"] == "461")
    r = await http.post(f"{EVENTS}/meetings/{MEETING}/registrations/{odense}/cancel", json={})
    assert r.status_code == 200, r.text
    r = await http.post(f"{EVENTS}/meetings/{MEETING}/seats", json={"seats": 60})
    assert r.status_code == 200, r.text


async def settled_at(http: httpx.AsyncClient, state: State) -> None:
    """Wait until the demo is in ``state`` (the participant list is a projection)."""

    async def arrived() -> bool:
        return await demo_state(http) == state

    await wait_until(arrived, timeout=30, what=f"the demo in the state {state}")


async def run_and_change(env: dict[str, str]) -> Running:
    """A first run, in which the demo is loaded and then changed; stopped again."""
    async with (
        running(env) as run,
        httpx.AsyncClient(headers=run.operator, timeout=10) as http,
    ):
        await settled_at(http, SEEDED)
        await change_the_demo(http)
        await settled_at(http, CHANGED)
    return run


async def test_a_second_run_starts_and_keeps_the_demo_as_it_was_changed(
    demo_env: dict[str, str],
) -> None:
    first = await run_and_change(demo_env)
    assert "registration from 851: confirmed" in first.text
    assert "demo loaded: 5 memberships, 1 meeting, 4 registrations" in first.text
    assert "area list 2021-12-01: imported, 39 rows in 12 municipalities; partial" in first.text
    after_first = await event_counts(demo_env)

    async with (
        running(demo_env) as second,
        httpx.AsyncClient(headers=second.operator, timeout=10) as http,
    ):
        assert await demo_state(http) == CHANGED
    assert "Traceback" not in second.text, second.text
    assert (
        "demo present: 5 memberships, 1 meeting, 4 registrations; left as it is; changed "
        "since the seed: membership 461 for 2021 cancelled, seats 80 -> 60, "
        "registration from 461 cancelled"
    ) in second.text
    assert "area list 2021-12-01: present, revision 1, 39 rows (partial)" in second.text
    assert await event_counts(demo_env) == after_first, "the second run wrote no events"
    async with httpx.AsyncClient(timeout=1) as client:
        for port in (8000 + OFFSET, 8001 + OFFSET, 8002 + OFFSET, 8003 + OFFSET):
            with pytest.raises(httpx.TransportError):  # stopped with the command
                await client.get(f"http://127.0.0.1:{port}/healthz")


async def test_reset_demo_says_what_it_deletes_then_brings_back_the_seeds_state(
    demo_env: dict[str, str], unique: str
) -> None:
    await run_and_change(demo_env)
    async with (
        running(demo_env, "--reset-demo") as reset,
        httpx.AsyncClient(headers=reset.operator, timeout=10) as http,
    ):
        await settled_at(http, SEEDED)
    said = reset.text.index("--reset-demo: deleting the databases")
    assert said < reset.text.index("ready at"), "said before it is done"
    for name in ("membership", "events", "notifications", "privacy"):
        assert f"t_{unique}_{name}" in reset.text[said:]
    assert "Everything in them is lost" in reset.text
    assert "demo loaded: 5 memberships, 1 meeting, 4 registrations" in reset.text


async def test_the_outreach_day_shows_the_listed_municipalities_before_the_deadline(
    demo_env: dict[str, str],
) -> None:
    async with (
        running(demo_env, "--as-of", "2021-12-02T10:00+01:00") as run,
        httpx.AsyncClient(headers=run.operator, timeout=10) as http,
    ):

        async def outreach() -> dict[str, Any] | None:
            answer = await http.get(f"{MEMBERSHIP}/networks/knub/outreach/2021")
            body: dict[str, Any] = answer.json()
            ready = answer.status_code == 200 and body["offer_meeting"] is not None
            return body if ready and body["offer_meeting"]["confirmed"] == 4 else None

        day = await wait_until(outreach, timeout=60, what="the outreach of the 2021 list")
        context = (await http.get(f"{WEB}/api/context")).json()
    assert context["now"].startswith("2021-12-02T")
    assert (day["list_date"], day["partial"], day["year"]) == ("2021-12-01", True, 2022)
    assert day["totals"]["listed"] == 12
    assert day["totals"]["not_invited"] == 12, "nobody is invited before the operator does it"
    members_2021 = {r["municipality_code"] for r in day["items"] if r["member_in_list_year"]}
    assert members_2021 == {"101", "169", "461", "751"}
    offer = day["offer_meeting"]
    assert (offer["meeting_id"], offer["free"]) == (MEETING, 76)
    assert "the outreach day is --as-of" not in run.text
    assert "area list 2021-12-01: imported" in run.text
