"""Bearer tokens (OIDC-style JWT, RS256): the settings, and their verification.

A token is checked for its signature against the issuer's JWKS (RS256 only: ``none`` and
HS256 "confusion" tokens are refused), its issuer, audience, expiry (with a small leeway)
and its claims, then becomes a :class:`~services.kernel.principal.Principal`. Nothing of a
token, nor any personal claim, is ever logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import structlog
from pydantic import BaseModel, Field

from services.kernel.principal import ROLES, Principal

log = structlog.get_logger(__name__)

ALGORITHMS = ["RS256"]
"""The only algorithm accepted: pinned, so a token cannot choose ``none`` or HS256."""

DEV_ISSUER = "http://127.0.0.1:9400"
DEFAULT_AUDIENCE = "kl-netvaerk"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_loopback_host(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    return host is not None and (host in LOOPBACK_HOSTS or host.startswith("127."))


def is_development_issuer(url: str | None) -> bool:
    """Plain http on loopback: the development issuer (``services.operator dev-issuer``
    listens there and nowhere else), never a real sign-in service."""
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme == "http" and is_loopback_host(parts.hostname)


class AuthSettings(BaseModel):
    """How to check bearer tokens; nested in each service's settings as ``auth``.

    ``EVENTS_AUTH__ISSUER``, ``EVENTS_AUTH__AUDIENCE``, ``EVENTS_AUTH__JWKS_URL`` or, for tests
    and offline use, ``EVENTS_AUTH__JWKS`` (the key set itself, as JSON). The defaults point at
    the development issuer of ``deploy/local/stack.sh``.
    """

    issuer: str = Field(default=DEV_ISSUER, description="Expected ``iss`` of every token.")
    audience: str = Field(default=DEFAULT_AUDIENCE, description="Expected ``aud``.")
    jwks_url: str | None = Field(
        default=f"{DEV_ISSUER}/jwks.json", description="Where the issuer publishes its keys."
    )
    jwks: dict[str, Any] | None = Field(
        default=None, description="The key set inline (tests, offline); wins over jwks_url."
    )
    leeway_s: float = Field(default=30.0, ge=0, le=300, description="Clock skew allowed.")
    fetch_timeout_s: float = Field(default=3.0, gt=0)
    refetch_interval_s: float = Field(
        default=60.0,
        ge=0,
        description="At most one fetch of the JWKS per this many seconds: for a token with "
        "an unknown kid, and again after a failed fetch.",
    )
    max_age_s: float = Field(
        default=600.0,
        gt=0,
        description="The key set is fetched again once it is this old, so a key the issuer "
        "withdrew stops verifying within this time (and the remembered tokens are forgotten).",
    )
    verified_tokens: int = Field(
        default=2_000,
        ge=0,
        le=100_000,
        description="How many verified tokens a process remembers, by their exact text, so "
        "a client's next request with the same token skips the signature check (0: none). "
        "A remembered token is still refused once it expires, and a new key set forgets all.",
    )


class InvalidTokenError(Exception):
    """The token is missing, malformed, forged, expired or meant for someone else."""


class IssuerUnavailableError(Exception):
    """The issuer's key set could not be fetched: an outage, not the caller's fault."""


KeyFetcher = Callable[[], Awaitable[dict[str, Any]]]


class TokenVerifier:
    """Checks tokens against a JWKS that it fetches (async), caches and refetches on rotation.

    The key set is fetched again when a token names an unknown ``kid`` (at most once per
    ``refetch_interval_s``) and once it is ``max_age_s`` old, whatever the tokens say: a
    key the issuer withdrew then stops verifying, and every remembered token is checked
    again. ``now`` is the wall clock of token lifetimes and of the key set's age (seconds
    since the epoch): real time even when a service's domain clock runs as of a demo date.
    """

    def __init__(
        self,
        settings: AuthSettings,
        *,
        fetch: KeyFetcher | None = None,
        now: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._now = now
        self._fetch = fetch or self._fetch_over_http
        self._keys: dict[str, Any] = {}
        self._loaded = False
        self._last_fetch: float | None = None
        """When a fetch was last tried (the rate limit)."""
        self._fetched_at: float | None = None
        """When the key set in use was fetched (its age)."""
        self._lock = asyncio.Lock()
        # token text -> (principal, exp, nbf): a signature checked once for the same bytes.
        self._verified: dict[str, tuple[Principal, float, float | None]] = {}
        if settings.jwks is not None:
            self._keys = _parse_jwks(settings.jwks)
            self._loaded = True

    async def _fetch_over_http(self) -> dict[str, Any]:
        if self.settings.jwks_url is None:
            raise IssuerUnavailableError
        async with httpx.AsyncClient(
            timeout=self.settings.fetch_timeout_s, transport=self._transport
        ) as client:
            response = await client.get(self.settings.jwks_url)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

    def _stale(self) -> bool:
        """The fetched key set is older than ``max_age_s`` (an inline one never is)."""
        return (
            self._fetched_at is not None
            and self._now() - self._fetched_at >= self.settings.max_age_s
        )

    async def _refresh(self, *, only_if_stale: bool = False) -> None:
        """Fetch the key set, at most once per ``refetch_interval_s`` (an unknown kid may
        be a rotated key, or an attacker making us fetch: the limit stops the latter).

        A failed fetch keeps the key set in use (an issuer outage must not sign everyone
        out) and is tried again after ``refetch_interval_s``; with no key set at all it is
        an outage (:class:`IssuerUnavailableError`).
        """
        if self.settings.jwks is not None:
            return
        async with self._lock:
            if only_if_stale and not self._stale():
                return  # another request refreshed it while this one waited
            now = self._now()
            if (
                self._last_fetch is not None
                and now - self._last_fetch < self.settings.refetch_interval_s
            ):
                return
            self._last_fetch = now
            try:
                keys = _parse_jwks(await self._fetch())
            except (httpx.HTTPError, ValueError, OSError, jwt.PyJWTError) as exc:
                log.warning("jwks fetch failed", error=type(exc).__name__)
                if not self._loaded:
                    self._last_fetch = None  # nothing cached: let the next request retry
                    raise IssuerUnavailableError from exc
                return
            self._verified.clear()  # a key may have been withdrawn
            self._keys = keys
            self._loaded = True
            self._fetched_at = now

    async def _key_for(self, kid: str | None) -> Any:
        if not self._loaded:
            await self._refresh()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        if kid is not None and kid not in self._keys:
            await self._refresh()
        if kid is None or kid not in self._keys:
            raise InvalidTokenError
        return self._keys[kid]

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; :class:`InvalidTokenError` for any other token.

        A token verified before (the very same text) is not checked again, only its
        lifetime: RS256 costs ≈ 0.1 ms, and a browser or a system sends one token many times.
        """
        if self._stale():
            await self._refresh(only_if_stale=True)
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, exp, nbf = remembered
            try:
                self._check_lifetime({"exp": exp, "nbf": nbf})
            except InvalidTokenError:
                del self._verified[token]
                raise
            return principal
        header = _unverified_header(token)
        if header.get("alg") not in ALGORITHMS:
            raise InvalidTokenError
        kid = header.get("kid")
        key = await self._key_for(kid if isinstance(kid, str) else None)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                # Lifetimes are checked below against the injected clock.
                options={
                    "require": ["exp", "iss", "aud", "sub"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError from exc
        self._check_lifetime(claims)
        principal = _principal(claims)
        self._remember(token, principal, claims)
        return principal

    def _remember(self, token: str, principal: Principal, claims: dict[str, Any]) -> None:
        limit = self.settings.verified_tokens
        if limit == 0:
            return
        while len(self._verified) >= limit:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = (principal, float(claims["exp"]), claims.get("nbf"))

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        now, leeway = self._now(), self.settings.leeway_s
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp + leeway < now:
            raise InvalidTokenError
        if nbf is not None and (not isinstance(nbf, int | float) or nbf - leeway > now):
            raise InvalidTokenError


_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def _unverified_header(token: str) -> dict[str, Any]:
    """The token's header, only to pick the key; ``jwt.decode`` then checks all of it.

    (PyJWT's own ``get_unverified_header`` checks the base64 alphabet character by
    character in Python: it would parse every token twice at ≈ 60 µs each.)
    """
    head, dot, _ = token.partition(".")
    if not dot or not _SEGMENT.fullmatch(head):
        raise InvalidTokenError
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidTokenError from exc
    if not isinstance(header, dict):
        raise InvalidTokenError
    return header


def _parse_jwks(jwks: dict[str, Any]) -> dict[str, Any]:
    """``kid`` -> public key, for the RSA signing keys of a JWKS."""
    keys: dict[str, Any] = {}
    for entry in jwks.get("keys", []):
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") != "RS256":
            continue
        key = jwt.PyJWK.from_dict({**entry, "alg": "RS256"})
        keys[str(entry.get("kid", ""))] = key.key
    if not keys:
        raise ValueError("the JWKS holds no RS256 signing key")
    return keys


def _principal(claims: dict[str, Any]) -> Principal:
    role, subject = claims.get("role"), claims.get("sub")
    if role not in ROLES or not isinstance(subject, str) or not subject:
        raise InvalidTokenError
    code = claims.get("municipality_code")
    email = claims.get("email")
    if role in ("coordinator", "participant") and not (
        isinstance(code, str) and len(code) == 3 and code.isdigit()
    ):
        raise InvalidTokenError
    if role == "participant" and not (isinstance(email, str) and "@" in email):
        raise InvalidTokenError
    return Principal(
        role=role,
        subject=subject,
        municipality_code=code if role != "operator" else None,
        email=email if role == "participant" else None,
    )
