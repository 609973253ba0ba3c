"""Schemathesis against a service's own OpenAPI, in-process, on the test's event loop.

Schemathesis generates the requests (valid ones and deliberately invalid ones) from the
schema the app serves; they go through ``httpx.ASGITransport`` on the same event loop as the
service's runtime (Schemathesis' own ASGI client would run the app on a thread of its own,
away from the asyncpg pool). Each response is checked by Schemathesis (no 5xx, body as
documented) and by our own rules for errors (problem+json, Danish and English detail, no
internals). Generation is derandomized, so a run is the same run every time.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.errors import FailureGroup

from tests.integration.hardening.conftest import Api

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
"""Requests per operation and round; raise it for a deeper run (``FUZZ_MAX_EXAMPLES=300``)."""

LEAKS = ("Traceback", 'File "', "asyncpg", "psycopg", "sqlstate", "Exception", "/work/")
"""Text that must never reach a client: stack traces, driver names, paths."""


def problem_rule(response: httpx.Response) -> str | None:
    """An error answer is problem+json with a Danish detail and an English one, no internals."""
    if response.status_code < 400:
        return None
    if response.headers.get("content-type") != "application/problem+json":
        return f"{response.status_code} is not problem+json: {response.headers.get('content-type')}"
    problem = response.json()
    missing = [k for k in ("type", "title", "status", "detail", "detail_en") if k not in problem]
    if missing or problem["status"] != response.status_code:
        return f"{response.status_code} problem lacks {missing} or has a wrong status: {problem}"
    leaked = [word for word in LEAKS if word.lower() in response.text.lower()]
    if leaked:
        return f"{response.status_code} leaks {leaked}: {response.text[:300]}"
    return None


@dataclass
class FuzzReport:
    """What was sent and what came back; ``failures`` must be empty."""

    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    sending: float = 0.0

    @property
    def requests(self) -> int:
        return sum(sum(c.values()) for c in self.statuses.values())

    def summary(self) -> str:
        lines = [f"{self.requests} requests in {self.seconds:.1f}s ({self.sending:.1f}s sending)"]
        lines += [f"  {label}: {dict(c)}" for label, c in sorted(self.statuses.items())]
        return "\n".join(lines)


def draw(strategy: Any, max_examples: int) -> list[schemathesis.Case]:
    """Up to ``max_examples`` cases from a strategy, the same ones on every run."""
    cases: list[schemathesis.Case] = []

    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: schemathesis.Case) -> None:
        cases.append(case)

    try:
        collect()
    except Unsatisfiable:
        pass  # e.g. no invalid request exists for an operation without parameters
    return cases


async def send(client: httpx.AsyncClient, case: schemathesis.Case) -> httpx.Response:
    """Send a case as Schemathesis would (its requests-style arguments, mapped to httpx)."""
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers") or {},
        "params": kwargs.get("params"),
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data.encode() if isinstance(data, str) else data
    return await client.request(**request)


def describe(case: schemathesis.Case, response: httpx.Response) -> str:
    body = response.request.content[:300]
    return f"{case.operation.label}: {response.request.url} body={body!r}"


async def fuzz(
    api: Api,
    *,
    max_examples: int = MAX_EXAMPLES,
    known: Mapping[str, str] | None = None,
    skip: Iterable[str] = (),
    extra_rules: Iterable[Callable[[httpx.Response], str | None]] = (),
) -> FuzzReport:
    """Fuzz every operation of ``api``'s OpenAPI (except ``skip``, by path).

    Two rounds per operation: valid requests, on the ``known`` path parameters where given
    (ids of things the test made, so that requests reach deeper than a 404), and invalid
    requests (generated path parameters included).
    """
    schema = schemathesis.openapi.from_dict(api.app.openapi())
    checks = [
        schemathesis.checks.not_a_server_error,
        schemathesis.checks.response_schema_conformance,
    ]
    rules = [problem_rule, *extra_rules]
    report = FuzzReport()
    started = time.monotonic()
    skipped = set(skip)
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in skipped:
            continue
        fixed = {k: v for k, v in (known or {}).items() if "{" + k + "}" in operation.path}
        rounds = [(GenerationMode.POSITIVE, fixed or None), (GenerationMode.NEGATIVE, None)]
        statuses = report.statuses.setdefault(operation.label, Counter())
        for mode, path_parameters in rounds:
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
            for case in draw(strategy, max_examples):
                sent = time.monotonic()
                response = await send(api.client, case)
                report.sending += time.monotonic() - sent
                statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=checks)
                except FailureGroup as group:
                    titles = "; ".join(sorted({f.title for f in group.exceptions}))
                    report.failures.append(
                        f"{titles}: {describe(case, response)} -> {response.text[:300]}"
                    )
                for rule in rules:
                    broken = rule(response)
                    if broken:
                        report.failures.append(f"{broken}: {describe(case, response)}")
    report.seconds = time.monotonic() - started
    return report
