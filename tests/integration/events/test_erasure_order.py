"""An erasure seen before the registration it concerns (they travel on different topics),
or while a stale key is still cached, still leaves the participant list showing no one."""

from __future__ import annotations

from typing import Any

import asyncpg

from contracts import meetings as wire
from services.events.adapters.projections import participants, queries, writer
from services.events.bootstrap import EventsService
from services.kernel.privacy import ERASED, seal

MEETING = "meeting-orden"
AT = "2021-11-19T09:00:00+01:00"


def scheduled() -> tuple[str, dict[str, Any]]:
    return wire.MeetingScheduled.type_name(), {
        "meeting_id": MEETING,
        "occurred_at": AT,
        "network_slug": "knub",
        "year": 2021,
        "title": "Møde",
        "description": "-",
        "starts_at": "2021-12-08T09:30:00+01:00",
        "ends_at": "2021-12-08T15:30:00+01:00",
        "venue_name": "KL-huset",
        "venue_address": "Weidekampsgade 10",
        "seats": 5,
        "registration_deadline": "2021-12-03T12:00:00+01:00",
    }


async def test_a_registration_projected_after_its_persons_erasure_shows_erased(
    service: EventsService, pool: asyncpg.Pool
) -> None:
    vault = service.vault
    anne, bo = await vault.persons_for(["anne@aarhus.dk", "bo@odense.dk"])

    def confirmed(rid: str, person_id: str, key: bytes, name: str) -> tuple[str, dict[str, Any]]:
        fields = {"name": name, "email": f"{rid}@x.dk", "job_title": "K", "note": None}
        return wire.RegistrationConfirmed.type_name(), {
            "meeting_id": MEETING,
            "occurred_at": AT,
            "registration_id": rid,
            "participant": {
                "person_id": person_id,
                "municipality_code": "101",
                "sealed": seal(person_id, key, fields),
            },
            "basis": "member",
            "price_dkk": 0,
        }

    async with pool.acquire() as conn, conn.transaction():
        await writer.apply_many(conn, [scheduled()], vault=vault)
        # The erasure event is consumed first; this process still holds Anne's key.
        await participants.scrub_person(conn, anne.person_id)
        await writer.apply_many(
            conn,
            [
                confirmed("reg-anne", anne.person_id, anne.key, "Anne Jensen"),
                confirmed("reg-bo", bo.person_id, bo.key, "Bo Holm"),
            ],
            vault=vault,
        )
    rows = {r["registration_id"]: r for r in await queries.participants(pool, MEETING)}
    assert (rows["reg-anne"]["name"], rows["reg-anne"]["email"]) == (ERASED, None)
    assert rows["reg-anne"]["status"] == "confirmed"
    assert rows["reg-bo"]["name"] == "Bo Holm"
