"""Tokens for tests: one test key pair, settings that trust it, and headers for each role.

In-process services get :data:`SETTINGS` (the JWKS inline, so no issuer runs); service
processes get :func:`env` for their prefix. ``token("coordinator", "751")`` mints a token
the services accept; ``**claims`` overrides any claim (an expired ``exp``, another ``aud``).
"""

from __future__ import annotations

import time
from typing import Any

from services.kernel.auth import AuthSettings, Role, jwks_json
from services.operator.dev_issuer import SigningKey, claims_for

ISSUER = "https://login.test.kl.dk"
AUDIENCE = "kl-netvaerk-test"
KEY = SigningKey(kid="test-key-1")
SETTINGS = AuthSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=None, jwks=KEY.jwks())


def token(
    role: Role,
    municipality: str | None = None,
    email: str | None = None,
    /,
    *,
    key: SigningKey = KEY,
    **claims: Any,
) -> str:
    """A signed token for ``role``; ``claims`` override or add claims (None removes one)."""
    made = claims_for(
        role,
        issuer=ISSUER,
        audience=AUDIENCE,
        municipality_code=municipality,
        email=email,
        lifetime_s=3600,
        now=time.time(),
    )
    return key.token(made, **claims)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def headers(
    role: Role, municipality: str | None = None, email: str | None = None
) -> dict[str, str]:
    """``Authorization`` header for a fresh token of ``role``."""
    return bearer(token(role, municipality, email))


OPERATOR = headers("operator")
"""Headers of an operator: the default of the test clients (tests of other rules than
access act as KL staff)."""


def env(prefix: str) -> dict[str, str]:
    """Environment of a service process that trusts the test key (``MEMBERSHIP`` ...)."""
    return {
        f"{prefix}_AUTH__ISSUER": ISSUER,
        f"{prefix}_AUTH__AUDIENCE": AUDIENCE,
        f"{prefix}_AUTH__JWKS": jwks_json(KEY.jwks()),
    }
