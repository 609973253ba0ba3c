"""Bearer-token authentication (OIDC-style JWT, RS256) and role checks for FastAPI.

A request carries ``Authorization: Bearer <JWT>``. The token is checked for its signature
against the issuer's JWKS (RS256 only: ``none`` and HS256 "confusion" tokens are refused),
its issuer, audience, expiry (with a small leeway) and its claims, then becomes a
:class:`Principal`. The kernel knows roles and claims, never a service's resources: a route
asks for roles with :func:`require` and checks ownership itself with the principal's helpers.

Refusals are problem+json: 401 (with ``WWW-Authenticate: Bearer``) for a missing or bad
token, 403 for a valid token without the right, 503 when the issuer's keys cannot be fetched.
Nothing of a token, nor any personal claim, is ever logged or echoed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.kernel.http import ProblemError
from services.kernel.principal import ROLES, NotAllowedError, Principal, Role, allow
from services.kernel.tokens import (
    DEFAULT_AUDIENCE,
    DEV_ISSUER,
    AuthSettings,
    InvalidTokenError,
    IssuerUnavailableError,
    TokenVerifier,
    is_development_issuer,
    is_loopback_host,
)

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEV_ISSUER",
    "AnyRole",
    "AuthSettings",
    "Operator",
    "OperatorOrCoordinator",
    "Principal",
    "Role",
    "TokenVerifier",
    "allow",
    "install_auth",
    "is_development_issuer",
    "is_loopback_host",
    "optional_principal",
    "require",
]


def unauthorized() -> ProblemError:
    return ProblemError(
        401,
        "invalid-token",
        "Ikke logget ind",
        "Forespørgslen mangler et gyldigt adgangstoken (Authorization: Bearer ...), eller "
        "tokenet er udløbet eller ikke udstedt til denne tjeneste. Log ind igen.",
        "The request lacks a valid access token (Authorization: Bearer ...), or the token "
        "has expired or was not issued for this service. Sign in again.",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def issuer_unavailable() -> ProblemError:
    return ProblemError(
        503,
        "issuer-unavailable",
        "Login-tjenesten svarer ikke",
        "Adgangstokenet kan ikke kontrolleres, fordi login-tjenesten ikke svarer. Intet er "
        "gemt. Prøv igen om lidt.",
        "The access token cannot be checked because the sign-in service does not answer. "
        "Nothing was saved. Try again shortly.",
        headers={"Retry-After": "5"},
    )


# --- FastAPI ------------------------------------------------------------------------------

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An access token (JWT, RS256) from KL's sign-in service.",
)


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def install_auth(
    app: FastAPI, settings: AuthSettings, verifier: TokenVerifier | None = None
) -> None:
    """Give ``app`` its token verifier and document its secured routes (call it last, when
    every route is in place). Routes use :func:`require` and :func:`optional_principal`;
    an app without a verifier refuses every token (fails closed)."""
    app.state.token_verifier = verifier or TokenVerifier(settings)
    document_security(app)


async def _principal_of(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized()
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise unauthorized()
    try:
        return await verifier.verify(credentials.credentials)
    except InvalidTokenError:
        raise unauthorized() from None
    except IssuerUnavailableError:
        raise issuer_unavailable() from None


async def optional_principal(request: Request, credentials: Bearer) -> Principal | None:
    """The caller on a public route: None without a token; a bad token is still a 401."""
    return await _principal_of(request, credentials)


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, who must hold one of ``roles`` (401 without a valid token,
    403 with another role). Ownership (which municipality, whose registration) is the
    route's to check with :meth:`Principal.acts_for` / :meth:`Principal.is_person`."""
    allowed = frozenset(roles or ROLES)

    async def dependency(request: Request, credentials: Bearer) -> Principal:
        principal = await _principal_of(request, credentials)
        if principal is None:
            raise unauthorized()
        if principal.role not in allowed:
            raise NotAllowedError()
        return principal

    dependency.required_roles = allowed  # type: ignore[attr-defined]
    return dependency


_AUTH_RESPONSES: dict[int, dict[str, Any]] = {
    401: {
        "description": "No valid access token (problem+json; WWW-Authenticate: Bearer).",
        "content": {"application/problem+json": {}},
    },
    403: {
        "description": "The token's role or municipality does not allow this (problem+json).",
        "content": {"application/problem+json": {}},
    },
}


def _roles_of(route: APIRoute) -> frozenset[str] | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dep = pending.pop()
        roles = getattr(dep.call, "required_roles", None)
        if roles is not None:
            return frozenset(roles)
        pending.extend(dep.dependencies)
    return None


def _api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every API route of ``app``, those of included routers too: FastAPI (0.16x) keeps an
    included router whole, so ``app.routes`` alone does not list its routes."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context.original_route


def document_security(app: FastAPI) -> None:
    """Add 401/403 to the OpenAPI responses of every route that requires a token, and the
    roles to its description: the app's OpenAPI document is completed when it is made (a
    route of an included router is documented from a copy FastAPI makes on first use, so
    the routes themselves are not changed)."""
    generate = app.openapi
    completed: set[int] = set()

    def openapi() -> dict[str, Any]:
        document = generate()
        if id(document) not in completed:
            for method, path, roles in routes_requiring_roles(app):
                operation = document["paths"].get(path, {}).get(method.lower())
                if roles is None or operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status, response in _AUTH_RESPONSES.items():
                    responses.setdefault(str(status), copy.deepcopy(response))
                note = "Roles: " + ", ".join(r for r in ROLES if r in roles) + "."
                operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
            completed.add(id(document))
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    app.openapi_schema = None


def routes_requiring_roles(app: FastAPI) -> Iterable[tuple[str, str, frozenset[str] | None]]:
    """``(method, path, roles or None)`` of each API route: for the access-matrix test."""
    for route in _api_routes(app):
        for method in sorted(route.methods or ()):
            yield method, route.path, _roles_of(route)


def jwks_json(jwks: dict[str, Any]) -> str:
    """A JWKS as the JSON an ``*_AUTH__JWKS`` environment variable holds."""
    return json.dumps(jwks, separators=(",", ":"))


Operator = Annotated[Principal, Depends(require("operator"))]
"""A route parameter: the caller, who must be an operator."""
OperatorOrCoordinator = Annotated[Principal, Depends(require("operator", "coordinator"))]
"""A route parameter: an operator or a coordinator (the route checks the municipality)."""
AnyRole = Annotated[Principal, Depends(require("operator", "coordinator", "participant"))]
"""A route parameter: any signed-in caller (the route checks what is theirs)."""
