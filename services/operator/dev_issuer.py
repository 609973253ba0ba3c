"""A development token issuer: OIDC discovery, a JWKS and tokens for any role, on loopback.

For the local stack and the demo only. Its RSA key is made at start-up and lives in memory
(a restart invalidates every token it gave out; the services refetch its new key). It
serves ``/.well-known/openid-configuration``, ``/jwks.json`` and ``POST /token`` with
``{"role": ..., "municipality_code": ..., "email": ...}``. There is no password: anyone who
can reach the loopback port gets any role, which is why it never listens elsewhere.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import BaseModel, Field

from services.kernel.auth import DEFAULT_AUDIENCE, DEV_ISSUER, Role
from services.kernel.http import ProblemError, install_problem_handlers


@dataclass
class SigningKey:
    """An RSA key pair that signs RS256 tokens and publishes its public half as a JWKS."""

    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(
            claims, self.private, algorithm="RS256", headers={"kid": self.kid, **(headers or {})}
        )

    def token(self, claims: dict[str, Any], /, **overrides: Any) -> str:
        """A signed token of ``claims`` (:func:`claims_for`); ``overrides`` replace or add
        claims, and a claim that ends up None is left out (tests use that to drop one)."""
        signed = {**claims, **overrides}
        return self.sign({k: v for k, v in signed.items() if v is not None})


def claims_for(
    role: Role,
    *,
    issuer: str,
    audience: str,
    municipality_code: str | None = None,
    email: str | None = None,
    lifetime_s: int = 8 * 3600,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of a token for ``role`` (a coordinator and a participant need a code)."""
    issued = int(time.time() if now is None else now)
    subject = {
        "operator": "operator",
        "coordinator": f"coordinator-{municipality_code}",
        "participant": f"participant-{uuid.uuid4().hex[:12]}",
    }[role]
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime_s,
        "role": role,
    }
    if municipality_code is not None and role != "operator":
        claims["municipality_code"] = municipality_code
    if email is not None and role == "participant":
        claims["email"] = email
    return claims


class TokenRequest(BaseModel):
    role: Role
    municipality_code: str | None = Field(default=None, pattern=r"^\d{3}$")
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    lifetime_s: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)


def create_app(
    issuer: str = DEV_ISSUER, audience: str = DEFAULT_AUDIENCE, key: SigningKey | None = None
) -> FastAPI:
    """The issuer's HTTP app (``issuer`` is its own base URL, the ``iss`` of its tokens)."""
    signing = key or SigningKey()
    app = FastAPI(
        title="KL development token issuer",
        description="Kun til udvikling. Development only: tokens for any role, no password.",
    )

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/jwks.json",
            "token_endpoint": f"{issuer}/token",
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        }

    @app.get("/jwks.json")
    async def jwks() -> dict[str, Any]:
        return signing.jwks()

    @app.get("/healthz")
    @app.get("/readyz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/token")
    async def token(body: TokenRequest) -> dict[str, Any]:
        if body.role in ("coordinator", "participant") and body.municipality_code is None:
            raise ProblemError(
                422,
                "municipality-required",
                "Kommunekode mangler",
                "En koordinator og en deltager skal have en kommunekode (municipality_code).",
                "A coordinator and a participant need a municipality_code.",
            )
        if body.role == "participant" and body.email is None:
            raise ProblemError(
                422,
                "email-required",
                "E-mail mangler",
                "En deltager skal have en e-mailadresse (email).",
                "A participant needs an email.",
            )
        claims = claims_for(
            body.role,
            issuer=issuer,
            audience=audience,
            municipality_code=body.municipality_code,
            email=body.email,
            lifetime_s=body.lifetime_s,
        )
        return {
            "access_token": signing.token(claims),
            "token_type": "Bearer",
            "expires_in": body.lifetime_s,
        }

    install_problem_handlers(app)
    return app


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def mint(
    issuer_url: str,
    role: Role,
    municipality_code: str | None = None,
    email: str | None = None,
    lifetime_s: int = 8 * 3600,
) -> str:
    """A token from the development issuer at ``issuer_url`` (blocking: for command lines)."""
    body = {"role": role, "municipality_code": municipality_code, "email": email}
    response = httpx.post(
        f"{issuer_url.rstrip('/')}/token", json={**body, "lifetime_s": lifetime_s}, timeout=5
    )
    if response.status_code != 200:
        raise RuntimeError(f"the issuer refused: HTTP {response.status_code} {response.text[:300]}")
    token: str = response.json()["access_token"]
    return token


def answers(issuer_url: str) -> bool:
    """The development issuer answers at ``issuer_url``."""
    try:
        return httpx.get(f"{issuer_url.rstrip('/')}/jwks.json", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
