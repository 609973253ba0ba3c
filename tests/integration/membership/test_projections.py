"""The roster read model follows the membership topic; other consumers read the events."""

from __future__ import annotations

import httpx

from contracts.base import registry
from contracts.envelope import decode
from contracts.membership import MEMBERSHIP_TOPIC, MembershipJoined
from services.kernel.eventstore import EventStore
from services.membership.adapters import roster
from tests.integration.membership.conftest import MembershipService, join_body
from tests.support.kafka import read_topic
from tests.support.waiting import wait_until


async def _roster(service: MembershipService, year: int, **params: str | int) -> httpx.Response:
    response = await service.client.get(f"/networks/knub/roster/{year}", params=params)
    assert response.status_code == 200
    return response


async def test_a_join_shows_in_the_roster_and_the_municipality_history(
    service: MembershipService,
) -> None:
    joined = await service.client.post("/networks/knub/memberships", json=join_body("461"))
    assert joined.status_code == 201

    async def odense_listed() -> bool:
        total: int = (await _roster(service, 2022)).json()["total"]
        return total == 1

    await wait_until(odense_listed, what="Odense in the 2022 roster")
    [entry] = (await _roster(service, 2022)).json()["items"]
    assert entry["municipality_code"] == "461"
    assert entry["municipality_name"] == "Odense"
    assert entry["status"] == "active"
    assert "contact_name" not in entry, "the roster holds no personal data"

    history = (await service.client.get("/municipalities/461/memberships")).json()
    assert history["total"] == 1
    assert history["items"][0]["membership_id"] == "membership-knub-2022-461"


async def test_an_independent_consumer_reads_the_join_as_a_cloudevent(
    service: MembershipService,
) -> None:
    body = join_body("101")
    await service.client.post("/networks/knub/memberships", json=body)
    await service.all_published()

    [record] = await read_topic(service.topic_prefix + MEMBERSHIP_TOPIC, expect=1)
    envelope = decode(record.key, record.headers, record.value)
    assert record.key == b"membership-knub-2022-101"
    assert envelope.type == "dk.kl.membership.joined.v2"
    assert envelope.source == "/kl/membership"
    payload = registry.parse(envelope.type, envelope.data)
    assert isinstance(payload, MembershipJoined)
    assert (payload.municipality_code, payload.year, payload.fee_dkk) == ("101", 2022, 7500)
    assert payload.ean == body["ean"]
    assert body["contact_email"].encode() not in record.value, "the contact travels sealed"
    assert body["contact_name"].encode() not in record.value


async def test_the_roster_pages_and_counts_and_follows_cancellations(
    service: MembershipService,
) -> None:
    codes = ["101", "147", "751", "851", "461"]
    for code in codes:
        await service.client.post("/networks/knub/memberships", json=join_body(code))
    await service.client.post(
        "/memberships/membership-knub-2022-147/cancel", json={"reason": "Budget"}
    )

    async def all_seen() -> bool:
        # Memberships travel on different partitions: wait for every one of them.
        cancelled = (await _roster(service, 2022, status="cancelled")).json()["total"]
        active = (await _roster(service, 2022)).json()["total"]
        return (cancelled, active) == (1, 4)

    await wait_until(all_seen, what="every join and the cancellation in the roster")
    first = (await _roster(service, 2022, limit=2, offset=0)).json()
    second = (await _roster(service, 2022, limit=2, offset=2)).json()
    assert first["total"] == second["total"] == 4
    listed = [e["municipality_code"] for e in first["items"] + second["items"]]
    assert listed == ["101", "461", "751", "851"]
    everything = (await _roster(service, 2022, status="all")).json()
    assert everything["total"] == 5


async def test_the_roster_can_be_rebuilt_from_the_event_store(
    service: MembershipService,
) -> None:
    for code in ["101", "751"]:
        await service.client.post("/networks/knub/memberships", json=join_body(code))

    async def both_listed() -> bool:
        total: int = (await _roster(service, 2022)).json()["total"]
        return total == 2

    await wait_until(both_listed, what="both in the roster")
    await service.pool.execute("UPDATE membership_roster SET status = 'garbled'")

    applied = await roster.rebuild(service.pool, EventStore(source="/kl/membership"))

    assert applied == 2
    assert (await _roster(service, 2022)).json()["total"] == 2
