"""The committed AsyncAPI documents are what the services' FastStream wiring says now."""

from __future__ import annotations

import pytest

from services.operator.asyncapi import ASYNCAPI_DIR, SERVICES, generate, render


@pytest.mark.parametrize("service", SERVICES)
def test_the_committed_asyncapi_document_is_current(service: str) -> None:
    committed = ASYNCAPI_DIR / f"{service}.json"
    assert committed.exists(), "run `make asyncapi` and commit contracts/asyncapi/"
    assert committed.read_text(encoding="utf-8") == render(generate(service)), (
        f"contracts/asyncapi/{service}.json is stale: run `make asyncapi` and commit it"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_the_asyncapi_document_names_every_published_event_type(service: str) -> None:
    document = generate(service)
    assert document["asyncapi"].startswith("3.")
    text = render(document)
    prefix = {
        "membership": "dk.kl.membership.",
        "events": "dk.kl.events.",
        "notifications": "dk.kl.notifications.",
    }[service]
    from contracts.catalog import all_models

    for type_name, model in all_models().items():
        if type_name.startswith(prefix) and not model.retired:
            assert type_name in text, f"{type_name} missing from the {service} document"
