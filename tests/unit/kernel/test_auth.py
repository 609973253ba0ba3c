"""The kernel's bearer-token check: claims, lifetimes, algorithms, key rotation, FastAPI."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI

from services.kernel.auth import (
    AuthSettings,
    InvalidTokenError,
    IssuerUnavailableError,
    Operator,
    OperatorOrCoordinator,
    Principal,
    TokenVerifier,
    allow,
    install_auth,
    optional_principal,
)
from services.kernel.emails import normalise_email
from services.kernel.http import install_problem_handlers
from services.kernel.privacy import PrivacySettings, Vault
from services.operator.dev_issuer import SigningKey, claims_for

ISSUER = "https://issuer.test"
AUDIENCE = "aud-test"
NOW = 1_800_000_000.0
KEY_A = SigningKey(kid="a")
KEY_B = SigningKey(kid="b")


def settings(**overrides: Any) -> AuthSettings:
    base: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "jwks_url": f"{ISSUER}/jwks.json",
    }
    return AuthSettings(**{**base, **overrides})


def token(
    role: str = "operator",
    key: SigningKey = KEY_A,
    code: str | None = None,
    email: str | None = None,
    /,
    **claims: Any,
) -> str:
    body = claims_for(
        role,  # type: ignore[arg-type]
        issuer=ISSUER,
        audience=AUDIENCE,
        municipality_code=code,
        email=email,
        lifetime_s=600,
        now=NOW,
    )
    body.update(claims)
    return key.sign(body)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Issuer:
    """A fake JWKS endpoint whose keys a test can rotate or take down."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.down = False

    async def __call__(self) -> dict[str, Any]:
        self.fetches += 1
        if self.down:
            raise httpx.ConnectError("issuer down")
        return {"keys": [k.jwk() for k in self.keys]}


async def test_a_valid_token_gives_its_principal_and_the_repr_hides_the_email() -> None:
    verifier = TokenVerifier(settings(), fetch=Issuer(KEY_A), now=Clock())
    principal = await verifier.verify(token("participant", KEY_A, "751", "a@b.dk"))
    assert (principal.role, principal.municipality_code, principal.email) == (
        "participant",
        "751",
        "a@b.dk",
    )
    assert "a@b.dk" not in repr(principal)


async def test_expiry_allows_the_leeway_and_no_more() -> None:
    clock = Clock()
    verifier = TokenVerifier(settings(leeway_s=30), fetch=Issuer(KEY_A), now=clock)
    valid = token()
    clock.now = NOW + 600 + 29
    await verifier.verify(valid)
    clock.now = NOW + 600 + 31
    with pytest.raises(InvalidTokenError):
        await verifier.verify(valid)


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "other"},
        {"iss": "https://other"},
        {"role": "admin"},
        {"sub": ""},
        {"nbf": NOW + 120},
        {"exp": "tomorrow"},
    ],
)
async def test_wrong_claims_are_refused(claims: dict[str, Any]) -> None:
    verifier = TokenVerifier(settings(), fetch=Issuer(KEY_A), now=Clock())
    with pytest.raises(InvalidTokenError):
        await verifier.verify(token(**claims))


async def test_only_rs256_is_accepted() -> None:
    verifier = TokenVerifier(settings(), fetch=Issuer(KEY_A), now=Clock())
    body = claims_for("operator", issuer=ISSUER, audience=AUDIENCE, now=NOW)
    for forged in (
        jwt.encode(body, "secret-of-32-bytes-at-the-least!", algorithm="HS256"),
        jwt.encode(body, None, algorithm="none"),
        jwt.encode(body, KEY_A.private, algorithm="RS512", headers={"kid": "a"}),
    ):
        with pytest.raises(InvalidTokenError):
            await verifier.verify(forged)


async def test_a_new_kid_makes_the_verifier_refetch_the_keys_so_rotation_works() -> None:
    issuer = Issuer(KEY_A)
    clock = Clock()
    verifier = TokenVerifier(settings(refetch_interval_s=30), fetch=issuer, now=clock)
    await verifier.verify(token("operator", KEY_A))
    assert issuer.fetches == 1
    issuer.keys = [KEY_B]  # the issuer rotates its key
    clock.now += 31
    principal = await verifier.verify(token("operator", KEY_B))
    assert principal.role == "operator"
    assert issuer.fetches == 2


async def test_unknown_kids_refetch_at_most_once_per_interval() -> None:
    issuer = Issuer(KEY_A)
    clock = Clock()
    verifier = TokenVerifier(settings(refetch_interval_s=30), fetch=issuer, now=clock)
    await verifier.verify(token("operator", KEY_A))
    stranger = SigningKey(kid="x")
    clock.now += 31  # the first load is long enough ago: one refetch is allowed
    for _ in range(5):
        with pytest.raises(InvalidTokenError):
            await verifier.verify(token("operator", stranger))
    assert issuer.fetches == 2  # the first load and one refetch, not five
    clock.now += 31
    with pytest.raises(InvalidTokenError):
        await verifier.verify(token("operator", stranger))
    assert issuer.fetches == 3


async def test_a_withdrawn_key_stops_verifying_once_the_key_set_is_ten_minutes_old() -> None:
    """The issuer drops key A (compromised): tokens signed with it, even a remembered one,
    are refused at the latest when the key set reaches its maximum age."""
    issuer = Issuer(KEY_A, KEY_B)
    clock = Clock()
    verifier = TokenVerifier(settings(), fetch=issuer, now=clock)
    signed_with_a = token("operator", KEY_A, exp=NOW + 3600)
    await verifier.verify(signed_with_a)
    issuer.keys = [KEY_B]  # withdrawn
    clock.now += 599
    await verifier.verify(signed_with_a)  # the key set is not old enough to be fetched yet
    assert issuer.fetches == 1
    clock.now += 1
    with pytest.raises(InvalidTokenError):
        await verifier.verify(signed_with_a)
    assert issuer.fetches == 2
    assert verifier._verified == {}, "the remembered tokens went with the old key set"
    assert (await verifier.verify(token("operator", KEY_B, exp=NOW + 3600))).role == "operator"
    assert issuer.fetches == 2
    assert (verifier.settings.max_age_s, verifier.settings.refetch_interval_s) == (600, 60)


async def test_a_stale_key_set_is_kept_while_the_issuer_is_down_and_fetched_once_a_minute() -> None:
    issuer = Issuer(KEY_A)
    clock = Clock()
    verifier = TokenVerifier(settings(), fetch=issuer, now=clock)
    valid = token("operator", KEY_A, exp=NOW + 7200)
    await verifier.verify(valid)
    issuer.down = True
    clock.now += 600
    for _ in range(5):
        assert (await verifier.verify(valid)).role == "operator"
    assert issuer.fetches == 2, "one try, not one per request"
    clock.now += 60
    await verifier.verify(valid)
    assert issuer.fetches == 3
    issuer.down = False
    issuer.keys = []  # nothing valid any more: the set is refused, the old one kept
    clock.now += 60
    await verifier.verify(valid)
    assert issuer.fetches == 4


async def test_an_unreachable_issuer_is_an_outage_and_the_next_request_tries_again() -> None:
    issuer = Issuer(KEY_A)
    issuer.down = True
    verifier = TokenVerifier(settings(), fetch=issuer, now=Clock())
    with pytest.raises(IssuerUnavailableError):
        await verifier.verify(token())
    issuer.down = False
    assert (await verifier.verify(token())).role == "operator"


async def test_the_keys_are_fetched_over_http_without_blocking() -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == f"{ISSUER}/jwks.json"
        return httpx.Response(200, json=KEY_A.jwks())

    verifier = TokenVerifier(settings(), transport=httpx.MockTransport(serve), now=Clock())
    assert (await verifier.verify(token())).role == "operator"


def test_a_principal_acts_for_its_own_municipality_and_is_its_own_person() -> None:
    coordinator = Principal("coordinator", "c", "751")
    participant = Principal("participant", "p", "751", "Anne@Aarhus.dk")
    operator = Principal("operator", "o")
    assert coordinator.acts_for("751")
    assert not coordinator.acts_for("101")
    assert operator.acts_for("101")
    assert not participant.acts_for("751")
    assert participant.is_person("anne@aarhus.DK")
    assert not participant.is_person("bo@aarhus.dk")
    assert not coordinator.is_person("anne@aarhus.dk")


def test_strasse_and_strasse_with_a_sharp_s_are_two_people_to_tokens_and_the_vault() -> None:
    """Case folding would make them one ("ß".casefold() == "ss"): one comparison, lower()."""
    sharp = Principal("participant", "p", "751", "straße@aarhus.dk")
    assert not sharp.is_person("strasse@aarhus.dk")
    assert not Principal("participant", "p", "751", "strasse@aarhus.dk").is_person(
        "straße@aarhus.dk"
    )
    assert sharp.is_person(" STRAßE@Aarhus.dk ")
    assert normalise_email("straße@aarhus.dk") != normalise_email("strasse@aarhus.dk")
    vault = Vault(PrivacySettings())
    assert vault.digest("straße@aarhus.dk") != vault.digest("strasse@aarhus.dk")
    assert vault.digest("Strasse@Aarhus.dk ") == vault.digest("strasse@aarhus.dk")


def app_with(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/open")
    async def open_route() -> dict[str, str | None]:
        return {"role": None}

    @app.get("/staff")
    async def staff(principal: Operator) -> dict[str, str]:
        return {"role": principal.role}

    @app.get("/municipalities/{code}")
    async def municipality(principal: OperatorOrCoordinator, code: str) -> dict[str, str]:
        allow(principal.acts_for(code))
        return {"code": code}

    install_auth(app, verifier.settings, verifier)
    return app


async def test_fastapi_401_403_503_and_the_openapi_document() -> None:
    issuer = Issuer(KEY_A)
    verifier = TokenVerifier(settings(), fetch=issuer)
    app = app_with(verifier)
    now = time.time()
    fresh = KEY_A.sign(
        claims_for(
            "coordinator", issuer=ISSUER, audience=AUDIENCE, municipality_code="751", now=now
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as client:
        missing = await client.get("/staff")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert missing.headers["content-type"] == "application/problem+json"
        bearer = {"Authorization": f"Bearer {fresh}"}
        assert (await client.get("/staff", headers=bearer)).status_code == 403
        assert (await client.get("/municipalities/751", headers=bearer)).status_code == 200
        assert (await client.get("/municipalities/101", headers=bearer)).status_code == 403
        assert (await client.get("/open")).status_code == 200
        issuer.down = True
        other = SigningKey(kid="z").sign(
            claims_for("operator", issuer=ISSUER, audience=AUDIENCE, now=now)
        )
        fresh_verifier_app = app_with(TokenVerifier(settings(), fetch=issuer))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fresh_verifier_app, raise_app_exceptions=False),
            base_url="http://t",
        ) as down:
            unavailable = await down.get("/staff", headers={"Authorization": f"Bearer {other}"})
        assert unavailable.status_code == 503
        assert unavailable.json()["type"] == "urn:kl:problem:issuer-unavailable"
    document = app.openapi()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    staff = document["paths"]["/staff"]["get"]
    assert {"401", "403"} <= set(staff["responses"])
    assert "Roles: operator." in staff["description"]
    assert "401" not in document["paths"]["/open"]["get"]["responses"]


async def test_the_optional_principal_is_none_without_a_token_and_401_with_a_bad_one() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/maybe")
    async def maybe(
        principal: Principal | None = Depends(optional_principal),  # noqa: B008
    ) -> dict[str, str | None]:
        return {"role": principal.role if principal else None}

    install_auth(app, settings(), TokenVerifier(settings(), fetch=Issuer(KEY_A)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as client:
        assert (await client.get("/maybe")).json() == {"role": None}
        bad = await client.get("/maybe", headers={"Authorization": "Bearer nonsense"})
        assert bad.status_code == 401


async def test_a_token_verified_once_is_remembered_but_still_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    verifier = TokenVerifier(settings(leeway_s=30), fetch=Issuer(KEY_A), now=clock)
    checked = 0
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        nonlocal checked
        checked += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    valid = token("coordinator", KEY_A, "751")
    first = await verifier.verify(valid)
    assert await verifier.verify(valid) == first
    assert checked == 1, "the signature of the same text is checked once"
    # Another text (one character changed) is checked, and refused.
    tampered = valid[:-2] + ("A" if valid[-2] != "A" else "B") + valid[-1]
    with pytest.raises(InvalidTokenError):
        await verifier.verify(tampered)
    assert checked == 2
    clock.now = NOW + 600 + 31
    with pytest.raises(InvalidTokenError):
        await verifier.verify(valid)


async def test_new_keys_forget_the_remembered_tokens_and_the_memory_is_bounded() -> None:
    issuer = Issuer(KEY_A)
    clock = Clock()
    verifier = TokenVerifier(
        settings(refetch_interval_s=30, verified_tokens=2), fetch=issuer, now=clock
    )
    old = token("operator", KEY_A)
    await verifier.verify(old)
    issuer.keys = [KEY_B]  # key A is withdrawn
    clock.now += 31
    await verifier.verify(token("operator", KEY_B))  # an unknown kid: the keys are fetched
    with pytest.raises(InvalidTokenError):
        await verifier.verify(old)
    for n in range(5):
        await verifier.verify(token("operator", KEY_B, None, None, sub=f"user-{n}"))
    assert len(verifier._verified) == 2
    off = TokenVerifier(settings(verified_tokens=0), fetch=Issuer(KEY_A), now=Clock())
    await off.verify(token())
    assert off._verified == {}
