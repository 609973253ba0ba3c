"""The development issuer: discovery, JWKS and tokens the services' check accepts; a restart
(a new key) is picked up by the services without a restart of theirs."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.kernel.auth import AuthSettings, InvalidTokenError, TokenVerifier
from services.operator.dev_issuer import SigningKey, create_app

ISSUER = "http://127.0.0.1:9400"


class Switchable(httpx.AsyncBaseTransport):
    """An ASGI transport whose app (the issuer "process") a test can replace."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await httpx.ASGITransport(app=self.app).handle_async_request(request)


async def mint(transport: httpx.AsyncBaseTransport, **body: object) -> httpx.Response:
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        return await client.post("/token", json=body)


def verifier(transport: httpx.AsyncBaseTransport) -> TokenVerifier:
    settings = AuthSettings(issuer=ISSUER, jwks_url=f"{ISSUER}/jwks.json", refetch_interval_s=0)
    return TokenVerifier(settings, transport=transport)


async def test_discovery_names_the_issuer_and_its_keys() -> None:
    transport = httpx.ASGITransport(app=create_app(ISSUER))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        discovery = (await client.get("/.well-known/openid-configuration")).json()
        jwks = (await client.get("/jwks.json")).json()
    assert discovery["issuer"] == ISSUER
    assert discovery["jwks_uri"] == f"{ISSUER}/jwks.json"
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    [key] = jwks["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert "d" not in key, "only the public half is published"


@pytest.mark.parametrize(
    ("body", "role", "code", "email"),
    [
        ({"role": "operator"}, "operator", None, None),
        ({"role": "coordinator", "municipality_code": "751"}, "coordinator", "751", None),
        (
            {"role": "participant", "municipality_code": "751", "email": "a@aarhus.dk"},
            "participant",
            "751",
            "a@aarhus.dk",
        ),
    ],
)
async def test_a_token_for_each_role_is_accepted_by_the_services_check(
    body: dict[str, object], role: str, code: str | None, email: str | None
) -> None:
    transport = httpx.ASGITransport(app=create_app(ISSUER))
    answer = await mint(transport, **body)
    assert answer.status_code == 200, answer.text
    principal = await verifier(transport).verify(answer.json()["access_token"])
    assert (principal.role, principal.municipality_code, principal.email) == (role, code, email)


@pytest.mark.parametrize(
    "body",
    [
        {"role": "coordinator"},
        {"role": "participant", "municipality_code": "751"},
        {"role": "admin"},
        {"role": "coordinator", "municipality_code": "7510"},
    ],
)
async def test_an_incomplete_request_gets_422(body: dict[str, object]) -> None:
    answer = await mint(httpx.ASGITransport(app=create_app(ISSUER)), **body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


async def test_a_restarted_issuer_has_a_new_key_and_the_check_fetches_it() -> None:
    transport = Switchable(create_app(ISSUER, key=SigningKey(kid="first")))
    check = verifier(transport)
    first = (await mint(transport, role="operator")).json()["access_token"]
    await check.verify(first)
    transport.app = create_app(ISSUER, key=SigningKey(kid="second"))  # the restart
    second = (await mint(transport, role="operator")).json()["access_token"]
    assert (await check.verify(second)).role == "operator"
    with pytest.raises(InvalidTokenError):  # the old key is gone with the old process
        await check.verify(first)
