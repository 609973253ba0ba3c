"""Who is a member, answered by the events service's own view, with the real services.

A non-member's registration does not call the membership service: the view answers once
it is shown complete (caught up with the membership topic). A municipality that joins and
registers the next moment gets the offer: the join is answered once it is on the topic,
and the registration waits for the view to have it. Only a view that cannot catch up in
time makes the events service ask the membership service, and if that cannot answer
either, the registration gets 503, never a wrong refusal.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from typing import Any

import asyncpg
import httpx

from services.operator.processes import ServiceProcess
from tests.support import auth
from tests.support.system import System
from tests.support.waiting import wait_until

NON_MEMBERS = ["147", "151", "153", "155", "157", "159", "161", "163", "165", "167"]


def meeting(slug: str, *, guest_price: int | None = None) -> dict[str, Any]:
    return {
        "slug": slug,
        "network_slug": "knub",
        "year": 2021,
        "title": "3. netværksmøde 2021",
        "description": "Systematisering af anvisning og udlejning",
        "starts_at": "2021-12-08T10:00:00",
        "ends_at": "2021-12-08T15:30:00",
        "venue_name": "KL-huset",
        "venue_address": "Weidekampsgade 10, 2300 København S",
        "seats": 100,
        "registration_deadline": "2021-12-03T12:00:00",
        "guest_price_dkk": guest_price,
        "next_year_members_free": True,
    }


def person(i: int, code: str) -> dict[str, str]:
    return {
        "name": f"Deltager {i}",
        "email": f"deltager{i}@kommune{code}.dk",
        "job_title": "Boligsocial medarbejder",
        "municipality_code": code,
    }


def ean(code: str) -> str:
    digits = [int(c) for c in f"579800{code}000"]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


async def metric(http: httpx.AsyncClient, url: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels`` (0 if none)."""
    total = 0.0
    for line in (await http.get(f"{url}/metrics")).text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] == name and all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


async def lookups_answered(http: httpx.AsyncClient, membership: str) -> float:
    """Requests the membership service answered on its lookup route (its own count)."""
    return await metric(
        http,
        membership,
        "http_request_duration_seconds_count",
        method="GET",
        route="/networks/{slug}/memberships/{year}/{municipality_code}",
    )


async def join(http: httpx.AsyncClient, membership: str, code: str, year: int) -> None:
    r = await http.post(
        f"{membership}/networks/knub/memberships",
        json={
            "municipality_code": code,
            "year": year,
            "contact_name": f"Koordinator {code}",
            "contact_email": f"koordinator@kommune{code}.dk",
            "ean": ean(code),
        },
        headers=auth.headers("coordinator", code),
    )
    assert r.status_code == 201, r.text


async def test_a_rush_of_non_members_does_not_ask_the_membership_service(
    system: System,
) -> None:
    await system.start("membership")
    await system.start("events")
    membership, events = system.url("membership"), system.url("events")
    async with httpx.AsyncClient(headers=auth.OPERATOR, timeout=60) as http:
        r = await http.post(f"{events}/meetings", json=meeting("rush", guest_price=1500))
        assert r.status_code == 201, r.text
        before = await lookups_answered(http, membership)
        gate = asyncio.Semaphore(50)

        async def register(i: int) -> httpx.Response:
            async with gate:
                code = NON_MEMBERS[i % len(NON_MEMBERS)]
                return await http.post(
                    f"{events}/meetings/meeting-rush/registrations", json=person(i, code)
                )

        answers = await asyncio.gather(*(register(i) for i in range(2000)))
        asked = await lookups_answered(http, membership) - before
        counted = await metric(http, events, "events_membership_lookups_total")
    print(f"membership lookups during 2,000 non-member registrations: {asked:.0f}")
    assert Counter(a.status_code for a in answers).keys() <= {201, 202}
    assert {a.json()["basis"] for a in answers} == {"guest"}
    assert asked <= len(NON_MEMBERS), "at most one lookup per municipality"
    assert asked == counted, "the events service counts every question it asks"


async def test_a_municipality_that_joins_and_registers_at_once_gets_the_offer(
    system: System,
) -> None:
    await system.start("membership")
    await system.start("events")
    membership, events = system.url("membership"), system.url("events")
    async with httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as http:
        # Members only (no guest price): a wrong "not a member" would be a 403.
        r = await http.post(f"{events}/meetings", json=meeting("offer"))
        assert r.status_code == 201, r.text
        for i, code in enumerate(NON_MEMBERS):
            await join(http, membership, code, 2022)
            r = await http.post(
                f"{events}/meetings/meeting-offer/registrations", json=person(i, code)
            )
            assert r.status_code == 201, r.text
            assert r.json()["basis"] == "next_year_offer"
        assert await metric(http, events, "events_membership_lookups_total") == 0


async def test_a_registration_waits_for_a_view_behind_and_asks_only_when_it_is_far_behind(
    system: System,
) -> None:
    await system.start("membership")
    [worker] = await system.start("events")  # consumes the membership topic
    [api] = await system.start("events", EVENTS_WORKERS="false", EVENTS_MEMBERSHIP_VIEW_WAIT_S="30")
    [impatient] = await system.start(
        "events", EVENTS_WORKERS="false", EVENTS_MEMBERSHIP_VIEW_WAIT_S="0.2"
    )
    membership = system.url("membership")
    async with httpx.AsyncClient(headers=auth.OPERATOR, timeout=60) as http:
        r = await http.post(f"{api.url}/meetings", json=meeting("behind"))
        assert r.status_code == 201, r.text
        register = "/meetings/meeting-behind/registrations"
        with paused(worker):  # the view stops where it is
            await join(http, membership, "147", 2022)
            waiting = asyncio.create_task(http.post(api.url + register, json=person(1, "147")))

            async def registration_waits() -> bool:
                return await metric(http, api.url, "view_freshness_waiting") == 1

            await wait_until(registration_waits, what="the registration waiting for the view")
            assert not waiting.done()
        r = await waiting  # the worker runs again: the view catches up, the answer comes
        assert r.status_code == 201, r.text
        assert r.json()["basis"] == "next_year_offer"
        assert await metric(http, api.url, "events_membership_lookups_total") == 0

        with paused(worker):
            await join(http, membership, "151", 2022)
            r = await http.post(impatient.url + register, json=person(2, "151"))
            assert r.status_code == 201, r.text
            assert r.json()["basis"] == "next_year_offer", "asked the membership service"
            assert await metric(http, impatient.url, "events_membership_lookups_total") >= 1

            system.instances["membership"][0].stop()
            r = await http.post(impatient.url + register, json=person(3, "153"))
            assert r.status_code == 503, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
    conn = await asyncpg.connect(system.dsn("events"))
    try:
        decided = await conn.fetchval(
            """SELECT count(*) FROM events
               WHERE stream_id = 'meeting-behind' AND event_type LIKE '%registration%'"""
        )
    finally:
        await conn.close()
    assert decided == 2, "the refused request wrote nothing"


class paused:
    """SIGSTOP a service process for the block (SIGCONT after, whatever happens)."""

    def __init__(self, process: ServiceProcess) -> None:
        assert process.process is not None
        self.pid = process.process.pid

    def __enter__(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def __exit__(self, *_: object) -> None:
        os.kill(self.pid, signal.SIGCONT)
