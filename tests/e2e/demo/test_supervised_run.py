"""``operator run`` keeps the system up: each service killed with SIGKILL in turn is started
again while the others are used and keep answering; Ctrl-C (SIGINT) then stops them all.

The time from the kill until the new process answers ``/readyz`` is measured and printed
(docs/benchmarks.md keeps the numbers); it is not asserted, the machine's load decides it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time

import httpx
import pytest

from tests.e2e.demo.conftest import EVENTS, MEETING, MEMBERSHIP, NOTIFICATIONS, WEB, running
from tests.support.waiting import wait_until

URLS = {"membership": MEMBERSHIP, "events": EVENTS, "notifications": NOTIFICATIONS, "web": WEB}
USE = {
    # What users and other services ask each one; none of it needs another service.
    "membership": [f"{MEMBERSHIP}/networks/knub/memberships/2021/101"],
    "events": [f"{EVENTS}/meetings/{MEETING}", f"{EVENTS}/meetings"],
    "notifications": [f"{NOTIFICATIONS}/deliveries?status=sent"],
    "web": [f"{WEB}/kommuner/851", f"{WEB}/api/context"],
}


async def use(http: httpx.AsyncClient, services: list[str], stop: asyncio.Event) -> list[str]:
    """Ask each service its questions until ``stop``; every answer as "<status> <url>"."""
    answers: list[str] = []
    while not stop.is_set():
        for service in services:
            for url in USE[service]:
                try:
                    answers.append(f"{(await http.get(url)).status_code} {url}")
                except httpx.TransportError as exc:
                    answers.append(f"{type(exc).__name__} {url}")
        await asyncio.sleep(0.05)  # wait-ok: the pace of the users, not a wait for a condition
    return answers


async def test_each_service_killed_in_turn_is_started_again_while_the_others_keep_serving(
    demo_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    measured: dict[str, tuple[float, str]] = {}
    async with (
        running(demo_env, stop=signal.SIGINT) as run,
        httpx.AsyncClient(headers=run.operator, timeout=5) as http,
    ):
        for service, url in URLS.items():
            others = [s for s in URLS if s != service]
            stop = asyncio.Event()
            users = asyncio.create_task(use(http, others, stop))
            old = run.pid_of(service)
            os.kill(old, signal.SIGKILL)
            killed = time.monotonic()

            async def ready_again(service: str = service, url: str = url) -> bool:
                try:
                    answered = (await http.get(f"{url}/readyz", timeout=1)).status_code == 200
                except httpx.TransportError:
                    return False
                return answered and f"{service}: ready again" in run.text

            await wait_until(ready_again, timeout=60, what=f"{service} ready again")
            took = time.monotonic() - killed
            stop.set()
            answers = await users
            assert run.pid_of(service) != old
            assert f"{service}: killed by SIGKILL; starting it again in 1 s" in run.text
            said = re.search(rf"{service}: ready again .*s after it exited", run.text)
            assert said is not None
            measured[service] = (took, said.group(0))
            failed = [a for a in answers if not a.startswith("200 ")]
            assert answers, "the others were used meanwhile"
            assert failed == [], f"while {service} was down: {failed[:5]}"
        assert "giving up" not in run.text
    assert run.process.returncode == 0, run.text
    assert "stopping" in run.text
    async with httpx.AsyncClient(timeout=1) as client:
        for url in URLS.values():
            with pytest.raises(httpx.TransportError):  # Ctrl-C stopped every service
                await client.get(f"{url}/healthz")
    with capsys.disabled():
        print("\nSIGKILL -> /readyz 200 again (operator run's back-off is 1 s):")
        for service, (took, line) in measured.items():
            print(f"  {service:14} {took:4.1f} s   supervisor: {line}")
