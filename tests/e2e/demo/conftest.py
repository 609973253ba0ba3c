"""``operator run`` as a process, with databases and topics of the test's own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from services.kernel.db import drop_database, ensure_database, with_database
from services.operator.dev_issuer import mint
from tests.support.stack import ADMIN_DSN, KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until

SERVICES = {"membership": "MEMBERSHIP", "events": "EVENTS", "notifications": "NOTIFICATIONS"}
OFFSET = 300  # ports 8300-8303, beside a system a developer may be running
WEB = f"http://127.0.0.1:{8000 + OFFSET}"
MEMBERSHIP = f"http://127.0.0.1:{8001 + OFFSET}"
EVENTS = f"http://127.0.0.1:{8002 + OFFSET}"
NOTIFICATIONS = f"http://127.0.0.1:{8003 + OFFSET}"
MEETING = "meeting-knub-2021-3"


@pytest.fixture
async def demo_env(unique: str, topic_prefix: str) -> AsyncIterator[dict[str, str]]:
    """Databases of the test's own (the vault's too) and a topic prefix, for ``run``."""
    env = {**os.environ, "COLUMNS": "200"}
    names = [*SERVICES, "privacy"]
    for name in names:
        await ensure_database(with_database(ADMIN_DSN, f"t_{unique}_{name}"))
    for service, prefix in SERVICES.items():
        env[f"{prefix}_DATABASE_URL"] = with_database(ADMIN_DSN, f"t_{unique}_{service}")
        env[f"{prefix}_PRIVACY__DATABASE_URL"] = with_database(ADMIN_DSN, f"t_{unique}_privacy")
        env[f"{prefix}_KAFKA__BOOTSTRAP_SERVERS"] = KAFKA_BOOTSTRAP
        env[f"{prefix}_KAFKA__TOPIC_PREFIX"] = topic_prefix
    env["NOTIFICATIONS_CONSUMER_GROUP"] = f"{topic_prefix}notifications"
    try:
        yield env
    finally:
        for name in names:
            await drop_database(with_database(ADMIN_DSN, f"t_{unique}_{name}"))


@dataclass
class Running:
    """A started ``operator run``: everything it printed so far, read as it comes."""

    process: asyncio.subprocess.Process
    output: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.output)

    @property
    def operator(self) -> dict[str, str]:
        """Headers with an operator token from the run's development issuer."""
        issuer = next(
            line.rsplit("--issuer-url", 1)[1].strip()
            for line in self.output
            if "--issuer-url" in line
        )
        return {"Authorization": f"Bearer {mint(issuer, 'operator')}"}

    def pid_of(self, service: str) -> int:
        """The pid of the service's latest process, as the supervisor said it."""
        pids = re.findall(
            rf"^\S+ {service}: (?:ready at|started again) .*?\(pid (\d+)\)", self.text, re.M
        )
        assert pids, f"no pid of {service} in:\n{self.text}"
        return int(pids[-1])

    async def said(self, text: str, *, timeout: float = 30) -> None:
        async def found() -> bool:
            return text in self.text

        await wait_until(found, timeout=timeout, what=f"'{text}' in the output of run")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@asynccontextmanager
async def running(
    env: dict[str, str], *args: str, stop: signal.Signals = signal.SIGTERM
) -> AsyncIterator[Running]:
    """Start the run command and wait for its "Where to look"; at the end send ``stop``
    and wait for it to exit. Asked to stop with SIGINT, it is started with SIGINT ignored,
    as a shell starts a background job (`make run &`): Ctrl-C or `kill -INT` must stop it
    all the same."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.operator",
        "run",
        "--port-offset",
        str(OFFSET),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        preexec_fn=_ignore_sigint if stop == signal.SIGINT else None,
    )
    run = Running(process)

    async def read() -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            run.output.append(line.decode())

    reader = asyncio.create_task(read())
    try:
        await run.said("Ctrl-C stops the services", timeout=120)
        assert "Where to look" in run.text, run.text
        yield run
    finally:
        if process.returncode is None:
            process.send_signal(stop)
        try:
            await asyncio.wait_for(process.wait(), 60)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader, 10)
