"""Joining, cancelling, renewing and changing the contact, over HTTP on the real database."""

from __future__ import annotations

from datetime import datetime

from contracts.membership import MembershipContactChanged, MembershipRenewed
from tests.integration.membership.conftest import COPENHAGEN, MembershipService, join_body

JOIN = "/networks/knub/memberships"
ID_2022 = "membership-knub-2022-101"


async def event_types(service: MembershipService, stream_id: str) -> list[str]:
    rows = await service.pool.fetch(
        "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version", stream_id
    )
    return [r["event_type"] for r in rows]


async def test_joining_again_returns_the_existing_membership_with_200(
    service: MembershipService,
) -> None:
    first = await service.client.post(JOIN, json=join_body())
    again = await service.client.post(JOIN, json=join_body(contact_name="Another Person"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json(), "the existing membership, unchanged"
    assert await service.event_count(ID_2022) == 1


async def test_a_join_is_at_once_visible_on_the_strongly_consistent_status_endpoint(
    service: MembershipService,
) -> None:
    status_url = "/networks/knub/memberships/2022/101"
    assert (await service.client.get(status_url)).status_code == 404
    await service.client.post(JOIN, json=join_body())

    answer = await service.client.get(status_url)

    assert answer.status_code == 200
    assert answer.json() == {
        "membership_id": ID_2022,
        "network_slug": "knub",
        "year": 2022,
        "municipality_code": "101",
        "status": "active",
    }
    await service.client.post(f"/memberships/{ID_2022}/cancel", json={"reason": "Budget"})
    assert (await service.client.get(status_url)).json()["status"] == "cancelled"
    unknown_network = await service.client.get("/networks/nope/memberships/2022/101")
    assert unknown_network.status_code == 404


async def test_joining_a_cancelled_membership_is_refused_with_contact_kl(
    service: MembershipService,
) -> None:
    await service.client.post(JOIN, json=join_body())
    await service.client.post(f"/memberships/{ID_2022}/cancel", json={"reason": "Budget"})

    rejoin = await service.client.post(JOIN, json=join_body())

    assert rejoin.status_code == 409
    assert rejoin.json()["type"] == "urn:kl:problem:membership-cancelled"
    assert "Kontakt KL" in rejoin.json()["detail"]
    assert await event_types(service, ID_2022) == [
        "dk.kl.membership.joined.v2",
        "dk.kl.membership.cancelled.v1",
    ]


async def test_renewing_opens_next_years_membership_once(service: MembershipService) -> None:
    await service.client.post(JOIN, json=join_body())

    first = await service.client.post(f"/memberships/{ID_2022}/renew")
    again = await service.client.post(f"/memberships/{ID_2022}/renew")

    assert (first.status_code, again.status_code) == (201, 200)
    renewed = first.json()
    assert renewed["membership_id"] == "membership-knub-2023-101"
    assert renewed["renewed_from"] == ID_2022
    assert (renewed["contact_email"], renewed["ean"]) == ("mette.hansen@kk.dk", "5798000000001")
    assert again.json() == renewed
    assert await event_types(service, "membership-knub-2023-101") == [MembershipRenewed.type_name()]


async def test_a_cancelled_membership_cannot_be_renewed(service: MembershipService) -> None:
    await service.client.post(JOIN, json=join_body())
    await service.client.post(f"/memberships/{ID_2022}/cancel", json={"reason": "Budget"})

    renew = await service.client.post(f"/memberships/{ID_2022}/renew")

    assert renew.status_code == 409
    assert await service.event_count("membership-knub-2023-101") == 0


async def test_renewing_into_a_year_that_has_ended_is_refused(
    service: MembershipService,
) -> None:
    await service.client.post(JOIN, json=join_body())
    service.clock.set(datetime(2024, 1, 5, 9, 0, tzinfo=COPENHAGEN))

    renew = await service.client.post(f"/memberships/{ID_2022}/renew")

    assert renew.status_code == 422
    assert renew.json()["type"] == "urn:kl:problem:year-in-past"
    assert await service.event_count("membership-knub-2023-101") == 0


async def test_changing_the_contact_person_records_an_event(service: MembershipService) -> None:
    await service.client.post(JOIN, json=join_body())
    new_contact = {"contact_name": "Jens Nielsen", "contact_email": "jens.nielsen@kk.dk"}

    changed = await service.client.put(f"/memberships/{ID_2022}/contact", json=new_contact)
    same_again = await service.client.put(f"/memberships/{ID_2022}/contact", json=new_contact)

    assert changed.status_code == same_again.status_code == 200
    fetched = (await service.client.get(f"/memberships/{ID_2022}")).json()
    assert (fetched["contact_name"], fetched["contact_email"]) == (
        "Jens Nielsen",
        "jens.nielsen@kk.dk",
    )
    assert (await event_types(service, ID_2022))[1:] == [MembershipContactChanged.type_name()]


async def test_a_retried_post_with_an_idempotency_key_gets_the_first_answer(
    service: MembershipService,
) -> None:
    headers = {"Idempotency-Key": "cancel-kbh-1"}
    await service.client.post(JOIN, json=join_body())
    url = f"/memberships/{ID_2022}/cancel"

    first = await service.client.post(url, json={"reason": "Budget"}, headers=headers)
    retry = await service.client.post(url, json={"reason": "Budget"}, headers=headers)
    other = await service.client.post(url, json={"reason": "Andet"}, headers=headers)

    assert (first.status_code, retry.status_code) == (200, 200), "not 409 already-cancelled"
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["type"] == "urn:kl:problem:idempotency-key-reused"
    assert await service.event_count(ID_2022) == 2


async def test_operators_create_networks_and_knub_is_seeded(service: MembershipService) -> None:
    body = {
        "slug": "klimanet",
        "name": "Kommunernes Klimanetværk",
        "description": "Et netværk for kommunale klimakoordinatorer.",
        "yearly_fee_dkk": 5000,
    }
    created = await service.client.post("/networks", json=body)
    same = await service.client.post("/networks", json=body)
    clash = await service.client.post("/networks", json={**body, "yearly_fee_dkk": 1})

    assert (created.status_code, same.status_code, clash.status_code) == (201, 200, 409)
    networks = (await service.client.get("/networks")).json()
    assert [n["slug"] for n in networks["items"]] == ["knub", "klimanet"]
    knub = networks["items"][0]
    assert knub["name"] == "Kommunernes Netværk for Udsatte Boligområder"
    assert knub["yearly_fee_dkk"] == 7500
    joined = await service.client.post("/networks/klimanet/memberships", json=join_body())
    assert joined.json()["fee_dkk"] == 5000


async def test_seeding_twice_leaves_one_network_created_event(
    service: MembershipService,
) -> None:
    await service.container.start_seed()
    assert await service.event_count("network-knub") == 1


async def test_the_municipality_list_is_served_and_filtered_by_region(
    service: MembershipService,
) -> None:
    everything = (await service.client.get("/municipalities")).json()
    north = (await service.client.get("/municipalities", params={"region": "Nordjylland"})).json()
    assert everything["total"] == 98
    assert north["total"] == 11
    assert {"code": "825", "name": "Læsø", "region": "Nordjylland"} in north["items"]
    unknown = await service.client.get("/municipalities/411/memberships")
    assert unknown.status_code == 404
