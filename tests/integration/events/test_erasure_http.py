"""The erasure endpoint in-process: by e-mail or person id, refusals that write nothing."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from services.events.bootstrap import EventsService
from services.kernel.privacy import ERASED
from tests.integration.events.conftest import add_members, meeting_body, person
from tests.support.waiting import wait_until


async def test_erasing_by_email_shows_the_person_erased_and_keeps_the_seat(
    client: httpx.AsyncClient, pool: asyncpg.Pool, service: EventsService
) -> None:
    meeting = (await client.post("/meetings", json=meeting_body(seats=1))).json()["meeting_id"]
    await add_members(pool, 2021, "101")
    anne, bo = person(1), person(2)
    seated = (await client.post(f"/meetings/{meeting}/registrations", json=anne)).json()
    await client.post(f"/meetings/{meeting}/registrations", json=bo)

    r = await client.post("/persons/erasures", json={"email": anne["email"].upper()})
    assert r.status_code == 202, r.text
    person_id = r.json()["person_id"]
    assert await service.vault.key(person_id) is None

    async def erased() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = (await client.get(f"/meetings/{meeting}/registrations")).json()
        return rows if any(row["erased"] for row in rows) and len(rows) == 2 else None

    rows = {row["registration_id"]: row for row in await wait_until(erased, what="scrubbed")}
    assert rows[seated["registration_id"]]["name"] == ERASED
    assert rows[seated["registration_id"]]["status"] == "confirmed"
    assert {row["name"] for row in rows.values()} == {ERASED, bo["name"]}
    stored = await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", person_id)
    assert stored == 1, "one PersonErased, through the outbox"

    # The same person again: nothing new; an id nobody had, or a bad body: refused.
    again = await client.post("/persons/erasures", json={"person_id": person_id})
    assert (again.status_code, again.json()["published"]) == (202, False)
    before = await pool.fetchval("SELECT count(*) FROM events")
    unknown = await client.post("/persons/erasures", json={"person_id": "person-" + "0" * 32})
    assert unknown.status_code == 404
    both = await client.post("/persons/erasures", json={"email": bo["email"], "person_id": "x"})
    assert both.status_code == 422
    assert bo["email"] not in both.text
    assert await pool.fetchval("SELECT count(*) FROM events") == before, "nothing written"
