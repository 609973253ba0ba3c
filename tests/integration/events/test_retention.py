"""Retention: participants' personal data is erased by itself a set time after the meeting;
a meeting that moves takes its participants' retention with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import httpx
import pytest

from services.events.bootstrap import EventsService, bootstrap
from services.events.config import Settings
from services.kernel.clock import ManualClock
from services.kernel.privacy import ERASED
from tests.integration.events.conftest import (
    AS_OF,
    CPH,
    ScriptedLookup,
    add_members,
    meeting_body,
    person,
)
from tests.support.waiting import wait_until

ENDS = datetime(2021, 12, 8, 15, 30, tzinfo=CPH)
MOVED_ENDS = ENDS + timedelta(days=7)


@pytest.fixture
async def service(
    settings: Settings, clock: ManualClock, lookup: ScriptedLookup
) -> AsyncIterator[EventsService]:
    settings.privacy.retention_days = 30
    svc = bootstrap(settings, clock=clock, lookup=lookup)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


async def test_participants_are_erased_once_the_retention_after_the_meeting_has_run_out(
    client: httpx.AsyncClient, pool: asyncpg.Pool, service: EventsService, clock: ManualClock
) -> None:
    created = await client.post("/meetings", json=meeting_body(seats=1))
    meeting = created.json()["meeting_id"]
    await add_members(pool, 2021, "101")
    for n in (1, 2):
        r = await client.post(f"/meetings/{meeting}/registrations", json=person(n))
        assert r.status_code in (201, 202), r.text
    vault_pool = await service.vault.pool()

    async def held(until: datetime) -> bool:
        rows = await vault_pool.fetch("SELECT until FROM holds WHERE holder LIKE 'meeting:%'")
        return len(rows) == 2 and all(r["until"] == until for r in rows)

    await wait_until(lambda: held(ENDS + timedelta(days=30)), what="holds until end + 30 days")

    moved = await client.post(
        f"/meetings/{meeting}/reschedule",
        json={
            "starts_at": "2021-12-15T09:30:00",
            "ends_at": "2021-12-15T15:30:00",
            "registration_deadline": "2021-12-10T12:00:00",
        },
    )
    assert moved.status_code == 200, moved.text
    await wait_until(lambda: held(MOVED_ENDS + timedelta(days=30)), what="holds moved")

    clock.set(ENDS + timedelta(days=31))
    assert await service.erasure.sweep() == 0, "the meeting moved: not yet"
    clock.set(MOVED_ENDS + timedelta(days=30) - timedelta(seconds=1))
    assert await service.erasure.sweep() == 0
    before = (await client.get(f"/meetings/{meeting}/availability")).json()
    clock.set(MOVED_ENDS + timedelta(days=30))
    assert await service.erasure.sweep() == 2
    assert await service.erasure.sweep() == 0, "once"

    async def all_erased() -> list[dict[str, object]] | None:
        rows: list[dict[str, object]] = (
            await client.get(f"/meetings/{meeting}/registrations")
        ).json()
        return rows if all(r["name"] == ERASED and r["email"] is None for r in rows) else None

    rows = await wait_until(all_erased, what="both participants shown erased")
    assert sorted(str(r["status"]) for r in rows) == ["confirmed", "waitlisted"]
    assert (await client.get(f"/meetings/{meeting}/availability")).json() == before
    reasons = await vault_pool.fetch("SELECT reason FROM erasures")
    assert [r["reason"] for r in reasons] == ["retention", "retention"]


async def test_a_person_made_for_a_refused_registration_is_erased_after_the_pending_days(
    client: httpx.AsyncClient, pool: asyncpg.Pool, service: EventsService, clock: ManualClock
) -> None:
    created = await client.post("/meetings", json=meeting_body(seats=5))
    meeting = created.json()["meeting_id"]
    await add_members(pool, 2021, "101")
    seated = await client.post(f"/meetings/{meeting}/registrations", json=person(1, "101"))
    assert seated.status_code == 201, seated.text
    # 999 is no member: refused, but the vault made a person (and a key) to seal the request.
    refused = await client.post(f"/meetings/{meeting}/registrations", json=person(2, "999"))
    assert refused.status_code == 403, refused.text
    vault = service.vault
    seated_id = await vault.find(person(1, "101")["email"])
    refused_id = await vault.find(person(2, "999")["email"])
    assert seated_id is not None
    assert refused_id is not None
    vault_pool = await vault.pool()

    async def meeting_hold() -> bool:
        found = await vault_pool.fetchval(
            "SELECT true FROM holds WHERE person_id = $1 AND holder LIKE 'meeting:%'", seated_id
        )
        return bool(found)

    await wait_until(meeting_hold, what="the participant's retention hold")
    pending = timedelta(days=service.vault.settings.pending_days)
    clock.set(AS_OF + pending - timedelta(seconds=1))
    assert await service.erasure.sweep() == 0, "still pending"
    clock.set(AS_OF + pending)
    assert await service.erasure.sweep() == 1
    assert await vault.find(person(2, "999")["email"]) is None, "the refused person is gone"
    assert await vault.known(seated_id), "the participant is kept until after the meeting"
    assert await vault.erased(refused_id)


async def test_refused_requests_again_and_again_do_not_keep_a_person_for_ever(
    client: httpx.AsyncClient, pool: asyncpg.Pool, service: EventsService, clock: ManualClock
) -> None:
    """Probing (is this address registered?) is refused each time; the person made for the
    first request is erased once the first pending hold has run out, not days after the
    last probe."""
    created = await client.post("/meetings", json=meeting_body(seats=5))
    meeting = created.json()["meeting_id"]
    probe = person(7, "999")  # 999 is no member: every request is refused
    pending = timedelta(days=service.vault.settings.pending_days)
    for day in range(pending.days):
        clock.set(AS_OF + timedelta(days=day))
        refused = await client.post(f"/meetings/{meeting}/registrations", json=probe)
        assert refused.status_code == 403, refused.text
    probed = await service.vault.find(probe["email"])
    assert probed is not None
    clock.set(AS_OF + pending - timedelta(seconds=1))
    assert await service.erasure.sweep() == 0, "still pending"
    clock.set(AS_OF + pending)
    assert await service.erasure.sweep() == 1
    assert await service.vault.erased(probed)
