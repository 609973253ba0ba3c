"""The HTTP API documents itself: every route, and an example on every model."""

from __future__ import annotations

from typing import Any

import pytest

from services.membership.bootstrap import bootstrap
from services.membership.config import Settings


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    # Building the app connects to nothing; only its lifespan would.
    document: dict[str, Any] = bootstrap(Settings()).openapi()
    return document


def test_every_route_of_the_issue_is_documented(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]
    expected = {
        ("/networks", "get"),
        ("/networks", "post"),
        ("/networks/{slug}/memberships", "post"),
        ("/memberships/{membership_id}", "get"),
        ("/memberships/{membership_id}/cancel", "post"),
        ("/memberships/{membership_id}/renew", "post"),
        ("/memberships/{membership_id}/contact", "put"),
        ("/networks/{slug}/memberships/{year}/{municipality_code}", "get"),
        ("/networks/{slug}/roster/{year}", "get"),
        ("/municipalities", "get"),
        ("/municipalities/{code}/memberships", "get"),
    }
    assert {(p, m) for p in paths for m in paths[p]} >= expected


def test_every_model_of_the_service_has_an_example(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    framework = {"HTTPValidationError", "ValidationError", "Region"}
    missing = [
        name
        for name, schema in schemas.items()
        if name not in framework and not schema.get("examples") and not schema.get("example")
    ]
    assert missing == []


def test_commands_document_the_idempotency_key_and_their_problems(
    openapi: dict[str, Any],
) -> None:
    join = openapi["paths"]["/networks/{slug}/memberships"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in join["parameters"]}
    assert {"200", "201", "404", "409", "422"} <= set(join["responses"])
