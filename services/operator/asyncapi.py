"""The AsyncAPI documents of the three services, generated from their FastStream wiring.

Committed under ``contracts/asyncapi/``; a test fails when one is stale. Regenerate with
``python -m services.operator asyncapi`` (or ``make asyncapi``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ASYNCAPI_DIR = Path(__file__).resolve().parents[2] / "contracts" / "asyncapi"
SERVICES = ("membership", "events", "notifications")


def generate(service: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of one service, as a JSON object."""
    module = importlib.import_module(f"services.{service}.entrypoints.asyncapi")
    document: dict[str, Any] = json.loads(module.specification.to_specification().to_json())
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write(
    directory: Path, services: Sequence[str], generate: Callable[[str], dict[str, Any]]
) -> list[Path]:
    """Write ``<directory>/<service>.json`` of each service; the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for service in services:
        path = directory / f"{service}.json"
        path.write_text(render(generate(service)), encoding="utf-8")
        written.append(path)
    return written


def write_all() -> list[Path]:
    return write(ASYNCAPI_DIR, SERVICES, generate)
