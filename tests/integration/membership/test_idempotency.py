"""Idempotency-Key records: no contact person in them, and each caller's keys are its own."""

from __future__ import annotations

from tests.integration.membership.conftest import MembershipService, join_body
from tests.support import auth

JOIN = "/networks/knub/memberships"


async def records(service: MembershipService) -> str:
    """Every idempotency record, every column, as text."""
    rows = await service.pool.fetch("SELECT row_to_json(i)::text AS r FROM idempotency_keys i")
    return "\n".join(r["r"] for r in rows)


async def test_a_record_holds_no_contact_person_and_a_replay_reads_the_membership_again(
    service: MembershipService,
) -> None:
    key = {"Idempotency-Key": "join-kbh-2022"}
    first = await service.client.post(JOIN, json=join_body(), headers=key)
    assert first.status_code == 201, first.text
    assert first.json()["contact_name"] == "Mette Hansen"

    stored = await records(service)
    assert "membership-knub-2022-101" in stored, "the record names the resource"
    for personal in ("Mette", "Hansen", "mette.hansen", "kk.dk"):
        assert personal.lower() not in stored.lower(), personal

    again = await service.client.post(JOIN, json=join_body(), headers=key)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == first.json()

    # The replay reads the membership as it is now (an erased contact shows as erased).
    changed = await service.client.put(
        "/memberships/membership-knub-2022-101/contact",
        json={"contact_name": "Jens Nielsen", "contact_email": "jens.nielsen@kk.dk"},
    )
    assert changed.status_code == 200, changed.text
    later = await service.client.post(JOIN, json=join_body(), headers=key)
    assert later.status_code == 201
    assert (later.json()["contact_name"], later.json()["contact_email"]) == (
        "Jens Nielsen",
        "jens.nielsen@kk.dk",
    )
    assert await service.event_count("membership-knub-2022-101") == 2, "joined once"


async def test_two_callers_never_share_an_idempotency_key(service: MembershipService) -> None:
    key = {"Idempotency-Key": "tilmelding"}
    kbh = auth.headers("coordinator", "101")
    aalborg = auth.headers("coordinator", "851")
    mine = await service.client.post(JOIN, json=join_body("101"), headers={**kbh, **key})
    theirs = await service.client.post(JOIN, json=join_body("851"), headers={**aalborg, **key})
    assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
    assert theirs.json()["membership_id"] == "membership-knub-2022-851"
    assert "Idempotent-Replayed" not in theirs.headers

    retried = await service.client.post(JOIN, json=join_body("101"), headers={**kbh, **key})
    assert (retried.status_code, retried.headers["Idempotent-Replayed"]) == (201, "true")
    assert retried.json()["membership_id"] == "membership-knub-2022-101"
