"""Bad tokens get 401 and write nothing; ownership needs the right person; public answers
carry no personal data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization

from services.operator.dev_issuer import SigningKey
from tests.integration.hardening.conftest import PARTICIPANT
from tests.integration.security.conftest import OTHER, OWN, OWN_EMAIL, World
from tests.support import auth
from tests.support.waiting import wait_until


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}"


def _claims() -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": auth.ISSUER,
        "aud": auth.AUDIENCE,
        "sub": "operator",
        "role": "operator",
        "iat": now,
        "exp": now + 600,
    }


def _tampered() -> str:
    head, body, signature = auth.token("operator").split(".")
    flipped = ("A" if signature[5] != "A" else "B") + signature[6:]
    return f"{head}.{body}.{signature[:5]}{flipped}"


def _escalated() -> str:
    """A participant's token whose claims were changed to operator, the signature kept."""
    head, _, signature = auth.token("participant", OWN, OWN_EMAIL).split(".")
    body = _b64(json.dumps(_claims()).encode())
    return f"{head}.{body}.{signature}"


def _alg_none() -> str:
    return _unsigned({"alg": "none", "typ": "JWT"}, _claims()) + "."


def _hs256_with_public_key() -> str:
    public_pem = auth.KEY.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": auth.KEY.kid}, _claims())
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


BAD_AUTHORIZATION = {
    "tampered signature": lambda: f"Bearer {_tampered()}",
    "claims changed, signature kept": lambda: f"Bearer {_escalated()}",
    "expired": lambda: f"Bearer {auth.token('operator', exp=int(time.time()) - 120)}",
    "not yet valid": lambda: f"Bearer {auth.token('operator', nbf=int(time.time()) + 600)}",
    "wrong audience": lambda: f"Bearer {auth.token('operator', aud='another-service')}",
    "wrong issuer": lambda: f"Bearer {auth.token('operator', iss='https://evil.example')}",
    "no expiry": lambda: f"Bearer {auth.token('operator', exp=None)}",
    "alg none": lambda: f"Bearer {_alg_none()}",
    "HS256 with the public key as secret": lambda: f"Bearer {_hs256_with_public_key()}",
    "another key, same kid": lambda: (
        "Bearer " + auth.token("operator", key=SigningKey(kid="test-key-1"))
    ),
    "unknown kid": lambda: "Bearer " + auth.token("operator", key=SigningKey(kid="other")),
    "unknown role": lambda: f"Bearer {auth.token('operator', role='admin')}",
    "coordinator without municipality": lambda: f"Bearer {auth.token('coordinator')}",
    "participant without e-mail": lambda: f"Bearer {auth.token('participant', OWN)}",
    "scheme Basic": lambda: "Basic b3BlcmF0b3I6c2VjcmV0",
    "scheme only": lambda: "Bearer",
    "empty token": lambda: "Bearer ",
    "two parts": lambda: "Bearer abc.def",
    "garbage": lambda: "Bearer !!not-a-token!!",
}


@pytest.mark.parametrize("case", list(BAD_AUTHORIZATION))
async def test_a_bad_token_gets_401_and_nothing_is_written(world: World, case: str) -> None:
    value = BAD_AUTHORIZATION[case]()
    before = await world.events.event_count()
    response = await world.events.client.post(
        f"/meetings/{world.meeting_id}/registrations",
        json={**PARTICIPANT, "email": "someone.else@aarhus.dk"},
        headers={"Authorization": value},
    )
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    problem = response.json()
    assert problem["type"] == "urn:kl:problem:invalid-token"
    assert "adgangstoken" in problem["detail"]
    assert "access token" in problem["detail_en"]
    token = value.removeprefix("Bearer ").removeprefix("Basic ")
    if len(token) > 8:
        assert token not in response.text
        assert token[:20] not in response.text
    assert await world.events.event_count() == before


async def test_a_participant_registers_only_themselves_in_their_own_municipality(
    world: World,
) -> None:
    participant = auth.headers("participant", OWN, "Kim.Holm@Aarhus.dk")
    url = f"/meetings/{world.meeting_id}/registrations"
    person = {**PARTICIPANT, "email": "kim.holm@aarhus.dk", "name": "Kim Holm"}
    before = await world.events.event_count()
    other_person = await world.events.client.post(
        url, json={**person, "email": "someone@aarhus.dk"}, headers=participant
    )
    other_place = await world.events.client.post(
        url, json={**person, "municipality_code": OTHER}, headers=participant
    )
    assert (other_person.status_code, other_place.status_code) == (403, 403)
    assert await world.events.event_count() == before
    # The e-mail of the token and of the body compare case-insensitively.
    mine = await world.events.client.post(url, json=person, headers=participant)
    assert mine.status_code == 201, mine.text


async def test_who_cancelled_is_the_signed_in_role_not_what_the_body_claims(
    world: World,
) -> None:
    cancelled = await world.events.client.post(
        f"/meetings/{world.meeting_id}/registrations/{world.registration_id}/cancel",
        json={"cancelled_by": "operator"},
        headers=auth.headers("participant", OWN, OWN_EMAIL.upper()),
    )
    assert cancelled.status_code == 200, cancelled.text
    assert world.events.pool is not None
    async with world.events.pool.acquire() as conn:
        recorded = await conn.fetchval(
            "SELECT data->>'cancelled_by' FROM events WHERE stream_id = $1"
            " AND data->>'registration_id' = $2 AND data ? 'cancelled_by'",
            world.meeting_id,
            world.registration_id,
        )
    assert recorded == "participant"


async def test_a_participant_reads_their_own_feed_whatever_the_case_of_the_address(
    world: World,
) -> None:
    own = auth.headers("participant", OWN, OWN_EMAIL.upper())
    response = await world.notifications.client.get(
        f"/recipients/{OWN_EMAIL}/notifications", headers=own
    )
    assert response.status_code == 200, response.text
    other = await world.notifications.client.get(
        "/recipients/someone.else@aarhus.dk/notifications", headers=own
    )
    assert other.status_code == 403


async def test_public_answers_carry_no_personal_data(world: World) -> None:
    public = [
        (world.events, "/meetings"),
        (world.events, f"/meetings/{world.meeting_id}"),
        (world.events, f"/meetings/{world.meeting_id}/availability"),
        (world.membership, "/networks"),
        (world.membership, "/municipalities"),
        (world.membership, f"/networks/knub/memberships/2022/{OWN}"),
    ]
    personal = [
        str(PARTICIPANT["name"]),
        OWN_EMAIL,
        str(PARTICIPANT["note"]),
        "Mette Hansen",
        "mette.hansen@kk.dk",
        "5798000000001",
    ]

    async def projected() -> bool:
        answer = await world.events.client.get(f"/meetings/{world.meeting_id}/availability")
        return answer.status_code == 200

    await wait_until(projected, timeout=30, what="meeting projected")
    for service, path in public:
        response = await service.client.get(path)
        assert response.status_code == 200, f"{path}: {response.text}"
        for value in personal:
            assert value.lower() not in response.text.lower(), f"{path} shows {value}"
