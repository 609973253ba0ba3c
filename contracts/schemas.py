"""JSON Schemas of the event payloads: export, and the compatibility rule they must keep.

The committed files in ``contracts/schemas/`` are the promise made to consumers. Within a
major version a payload may add optional fields only. :func:`breaking_changes` lists what
a new schema breaks of an old one; ``python -m contracts.schemas`` rewrites the files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from contracts.catalog import all_models

SCHEMA_DIR = Path(__file__).parent / "schemas"


def current_schemas() -> dict[str, dict[str, Any]]:
    """Type name -> JSON Schema of its payload, as the code defines it now."""
    schemas: dict[str, dict[str, Any]] = {}
    for type_name, model in sorted(all_models().items()):
        schema = model.model_json_schema(mode="validation")
        schema["$id"] = f"urn:kl:event:{type_name}"
        schema["x-cloudevents-type"] = type_name
        schema["x-kafka-topic"] = model.topic
        if model.retired:
            schema["x-retired"] = True  # no longer published; see the next major version
        schemas[type_name] = schema
    return schemas


def committed_schemas(directory: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: dict[str, Any] = root.get("$defs", {})[ref.split("/")[-1]]
        return resolved
    return schema


def _types(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    schema = _resolve(schema, root)
    if "type" in schema:
        t = schema["type"]
        return set(t) if isinstance(t, list) else {t}
    found: set[str] = set()
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, []):
            found |= _types(sub, root)
    return found or {"any"}


def breaking_changes(
    old: dict[str, Any],
    new: dict[str, Any],
    path: str = "",
    old_root: dict[str, Any] | None = None,
    new_root: dict[str, Any] | None = None,
) -> list[str]:
    """What in ``new`` would break a consumer written against ``old`` (empty: compatible).

    Breaking: a field removed, a field made required that was optional or new, a field's
    type narrowed, a nested object changed in one of these ways.
    """
    old_root = old_root or old
    new_root = new_root or new
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    problems: list[str] = []
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    for name in old_props:
        if name not in new_props:
            problems.append(f"{path}{name}: removed")
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        problems.append(f"{path}{name}: now required")
    for name, old_field in old_props.items():
        if name not in new_props:
            continue
        new_field = new_props[name]
        old_types = _types(old_field, old_root)
        new_types = _types(new_field, new_root)
        if "any" not in new_types and not old_types <= new_types:
            problems.append(f"{path}{name}: type {sorted(old_types)} became {sorted(new_types)}")
        old_obj = _resolve(old_field, old_root)
        new_obj = _resolve(new_field, new_root)
        if "properties" in old_obj:
            problems += breaking_changes(old_obj, new_obj, f"{path}{name}.", old_root, new_root)
        if old_obj.get("type") == "array" and isinstance(old_obj.get("items"), dict):
            problems += breaking_changes(
                old_obj["items"], new_obj.get("items", {}), f"{path}{name}[].", old_root, new_root
            )
    return problems


def main() -> int:
    """Write the current schemas to contracts/schemas/; refuse a breaking change."""
    SCHEMA_DIR.mkdir(exist_ok=True)
    committed = committed_schemas()
    current = current_schemas()
    failed = False
    for type_name, schema in current.items():
        if type_name in committed:
            problems = breaking_changes(committed[type_name], schema)
            if problems:
                failed = True
                print(f"{type_name}: breaking change, make a new major version:", file=sys.stderr)
                for problem in problems:
                    print(f"  - {problem}", file=sys.stderr)
                continue
        (SCHEMA_DIR / f"{type_name}.json").write_text(render(schema), encoding="utf-8")
    for type_name in sorted(set(committed) - set(current)):
        failed = True
        print(f"{type_name}: its model is gone; consumers still read it", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
