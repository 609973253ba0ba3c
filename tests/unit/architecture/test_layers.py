"""The shape every service keeps: what each layer may import (read from the source).

- ``domain/`` is pure: it imports the standard library and its own domain, nothing else.
- ``service_layer/`` reaches the world through its ports: no adapters, no entrypoints, no
  database driver, no web framework.
- A service never imports another service; what they share is ``services.kernel`` (which
  knows no service) and ``contracts`` (which knows no service either).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("membership", "events", "notifications")
STANDARD = sys.stdlib_module_names


def imports(path: Path) -> set[str]:
    """The modules ``path`` imports (absolute names; relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module is not None:
                found.add(node.module)
    return found


def modules(*parts: str) -> list[Path]:
    return sorted(ROOT.joinpath("services", *parts).rglob("*.py"))


def offending(paths: list[Path], allowed: Callable[[str], bool]) -> dict[str, list[str]]:
    found = {
        str(path.relative_to(ROOT)): sorted(m for m in imports(path) if not allowed(m))
        for path in paths
    }
    return {path: names for path, names in found.items() if names}


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_imports_only_its_own_domain_and_the_standard_library(service: str) -> None:
    own = f"services.{service}.domain"

    def allowed(name: str) -> bool:
        return name == "__future__" or name.split(".")[0] in STANDARD or name.startswith(own)

    assert offending(modules(service, "domain"), allowed) == {}


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_layer_goes_through_its_ports(service: str) -> None:
    refused = (
        f"services.{service}.adapters",
        f"services.{service}.entrypoints",
        "asyncpg",
        "fastapi",
        "starlette",
        "aiokafka",
        "faststream",
    )

    def allowed(name: str) -> bool:
        return not name.startswith(refused)

    paths = modules(service, "service_layer")
    assert paths, f"{service} has a service layer"
    assert offending(paths, allowed) == {}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = tuple(
        f"services.{other}" for other in (*SERVICES, "web", "operator") if other != service
    )

    def allowed(name: str) -> bool:
        return not name.startswith(others)

    assert offending(modules(service), allowed) == {}


def test_the_kernel_and_the_contracts_know_no_service() -> None:
    services = tuple(f"services.{s}" for s in (*SERVICES, "web", "operator"))

    def allowed(name: str) -> bool:
        return not name.startswith(services)

    contracts = sorted(ROOT.joinpath("contracts").rglob("*.py"))
    assert offending([*modules("kernel"), *contracts], allowed) == {}
