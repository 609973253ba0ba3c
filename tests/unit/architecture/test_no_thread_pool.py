"""No route of a service runs in FastAPI's thread pool.

FastAPI runs a plain ``def`` endpoint or dependency in its thread pool: a thread hand-off per
request. On the registration path that cost the events service a third more CPU in a rush
(two plain-``def`` dependencies, found by profiling). The services' routes and their
dependencies are ``async`` and never block, so none needs the pool.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from services.operator.openapi import SERVICES, app_of


def _is_async(call: Callable[..., Any]) -> bool:
    return (
        inspect.iscoroutinefunction(call)
        or inspect.isasyncgenfunction(call)
        or inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004
    )


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _in_the_thread_pool(service: str) -> list[str]:
    found = []
    for context in iter_route_contexts(app_of(service).routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        where = f"{sorted(route.methods or ())} {route.path}"
        if not _is_async(route.endpoint):
            found.append(f"{where}: endpoint {route.endpoint.__qualname__}")
        found += [
            f"{where}: dependency {getattr(call, '__qualname__', type(call).__qualname__)}"
            for call in _calls(route.dependant)
            if not _is_async(call)
        ]
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_no_endpoint_or_dependency_runs_in_the_thread_pool(service: str) -> None:
    assert _in_the_thread_pool(service) == []
