"""The committed OpenAPI documents are what the services' HTTP apps say now.

With the AsyncAPI documents and the JSON Schemas beside them, they are the services'
edges: a change of a path, a parameter, a model or a problem answer shows as a change
of a committed file, made on purpose with ``make openapi``.
"""

from __future__ import annotations

import pytest

from services.operator.asyncapi import render
from services.operator.openapi import OPENAPI_DIR, SERVICES, generate


@pytest.mark.parametrize("service", SERVICES)
def test_the_committed_openapi_document_is_current(service: str) -> None:
    committed = OPENAPI_DIR / f"{service}.json"
    assert committed.exists(), "run `make openapi` and commit contracts/openapi/"
    assert committed.read_text(encoding="utf-8") == render(generate(service)), (
        f"contracts/openapi/{service}.json is stale: run `make openapi` and commit it"
    )


def test_a_changed_route_shows_as_a_stale_document() -> None:
    document = generate("events")
    committed = (OPENAPI_DIR / "events.json").read_text(encoding="utf-8")
    document["paths"]["/meetings"]["post"]["summary"] = "Something else"
    assert render(document) != committed
