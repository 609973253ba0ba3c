"""The committed JSON Schemas are the promise to consumers: current, and never broken."""

from __future__ import annotations

import copy
from typing import Any

from contracts.schemas import (
    SCHEMA_DIR,
    breaking_changes,
    committed_schemas,
    current_schemas,
    render,
)


def test_every_event_type_has_its_schema_committed_and_up_to_date() -> None:
    committed = {p.stem: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.json")}
    current = {name: render(schema) for name, schema in current_schemas().items()}
    missing = sorted(set(current) - set(committed))
    stale = sorted(n for n in current if n in committed and committed[n] != current[n])
    assert not missing, f"run `python -m contracts.schemas` and commit: {missing}"
    assert not stale, f"run `python -m contracts.schemas` and commit: {stale}"


def test_no_committed_schema_is_broken_by_the_current_code() -> None:
    current = current_schemas()
    for type_name, old in committed_schemas().items():
        assert type_name in current, f"{type_name} is gone but consumers still read it"
        assert breaking_changes(old, current[type_name]) == [], type_name


BASE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "year": {"type": "integer"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
    },
    "required": ["year"],
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {"title": {"type": "string"}},
            "required": ["title"],
        }
    },
}


def changed(edit: Any) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    edit(new)
    return new


def test_adding_an_optional_field_is_compatible() -> None:
    new = changed(lambda s: s["properties"].update(extra={"type": "string"}))
    assert breaking_changes(BASE, new) == []


def test_removing_a_field_breaks_consumers() -> None:
    new = changed(lambda s: s["properties"].pop("note"))
    assert breaking_changes(BASE, new) == ["note: removed"]


def test_a_new_required_field_breaks_consumers_of_old_events() -> None:
    new = changed(
        lambda s: (s["properties"].update(extra={"type": "string"}), s["required"].append("extra"))
    )
    assert breaking_changes(BASE, new) == ["extra: now required"]


def test_changing_a_type_breaks_consumers() -> None:
    new = changed(lambda s: s["properties"].update(year={"type": "string"}))
    assert breaking_changes(BASE, new) == ["year: type ['integer'] became ['string']"]


def test_a_change_inside_nested_items_is_found() -> None:
    new = changed(lambda s: s["$defs"]["Item"]["properties"].pop("title"))
    assert breaking_changes(BASE, new) == ["items[].title: removed"]
