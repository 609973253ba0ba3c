"""Bad input is refused with a problem a person can act on (Danish first), and writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.membership.conftest import MembershipService, join_body


def assert_problem(response: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"urn:kl:problem:{type_}"
    assert problem["detail"]
    assert problem["detail_en"]
    assert problem["detail"] != problem["detail_en"], "Danish text first, English beside it"
    return problem


@pytest.mark.parametrize(
    ("path", "body", "status", "type_", "danish"),
    [
        pytest.param(
            "/networks/knub/memberships",
            join_body("999"),
            422,
            "unknown-municipality",
            "Kommunekoden '999' findes ikke",
            id="unknown municipality code",
        ),
        pytest.param(
            "/networks/knub/memberships",
            join_body("411"),
            422,
            "unknown-municipality",
            "officielle tre-cifrede kode",
            id="Christiansø is no municipality",
        ),
        pytest.param(
            "/networks/nope/memberships",
            join_body(),
            404,
            "unknown-network",
            "Netværket 'nope' findes ikke",
            id="unknown network",
        ),
        pytest.param(
            "/networks/knub/memberships",
            join_body(contact_email="mette.hansen-at-kk.dk"),
            422,
            "invalid-request",
            "Ret disse felter og prøv igen: contact_email",
            id="malformed e-mail",
        ),
        pytest.param(
            "/networks/knub/memberships",
            join_body(ean="5798000000002"),
            422,
            "invalid-ean",
            "kontrolciffer",
            id="wrong EAN check digit",
        ),
        pytest.param(
            "/networks/knub/memberships",
            join_body(ean="57980000001"),
            422,
            "invalid-ean",
            "13 cifre",
            id="EAN too short",
        ),
        pytest.param(
            "/networks/knub/memberships",
            join_body(year=2019),
            422,
            "year-in-past",
            "Vælg 2021 eller et senere år",
            id="a year long past",
        ),
        pytest.param(
            "/networks/knub/memberships",
            join_body(year=2020),
            422,
            "year-in-past",
            "2020, som er slut",
            id="last year",
        ),
        pytest.param(
            "/networks/knub/memberships",
            join_body(year=2031),
            422,
            "year-too-far-ahead",
            "ikke åben endnu",
            id="a year far ahead",
        ),
    ],
)
async def test_a_refused_join_writes_nothing(
    service: MembershipService,
    path: str,
    body: dict[str, object],
    status: int,
    type_: str,
    danish: str,
) -> None:
    before = await service.event_count()

    response = await service.client.post(path, json=body)

    problem = assert_problem(response, status, type_)
    assert danish in problem["detail"]
    assert await service.event_count() == before
    assert await service.pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_cancelling_twice_is_refused_and_writes_nothing(
    service: MembershipService,
) -> None:
    await service.client.post("/networks/knub/memberships", json=join_body())
    first = await service.client.post(
        "/memberships/membership-knub-2022-101/cancel", json={"reason": "Budgetnedskæringer"}
    )
    assert first.status_code == 200
    assert first.json()["status"] == "cancelled"
    before = await service.event_count()

    second = await service.client.post(
        "/memberships/membership-knub-2022-101/cancel", json={"reason": "Igen"}
    )

    problem = assert_problem(second, 409, "already-cancelled")
    assert "allerede opsagt" in problem["detail"]
    assert await service.event_count() == before


async def test_a_refused_request_with_an_idempotency_key_remembers_nothing(
    service: MembershipService,
) -> None:
    headers = {"Idempotency-Key": "retry-1"}
    refused = await service.client.post(
        "/networks/knub/memberships", json=join_body(ean="5798000000002"), headers=headers
    )
    assert_problem(refused, 422, "invalid-ean")
    assert await service.event_count("membership-knub-2022-101") == 0
    assert await service.pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_commands_on_an_unknown_membership_are_404_and_write_nothing(
    service: MembershipService,
) -> None:
    before = await service.event_count()
    cancel = await service.client.post(
        "/memberships/membership-knub-2022-101/cancel", json={"reason": "x"}
    )
    renew = await service.client.post("/memberships/membership-knub-2022-101/renew")
    contact = await service.client.put(
        "/memberships/membership-knub-2022-101/contact",
        json={"contact_name": "Jens", "contact_email": "jens@kk.dk"},
    )
    for response in (cancel, renew, contact):
        assert_problem(response, 404, "unknown-membership")
    assert await service.event_count() == before


async def test_a_malformed_membership_id_is_refused(service: MembershipService) -> None:
    response = await service.client.get("/memberships/network-knub")
    assert_problem(response, 422, "invalid-request")
