"""The README's run command: the whole system with the seed's demo, and a second run adds
nothing to it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from services.kernel.db import drop_database, ensure_database, with_database
from tests.support import auth
from tests.support.stack import ADMIN_DSN, KAFKA_BOOTSTRAP

SERVICES = {"membership": "MEMBERSHIP", "events": "EVENTS", "notifications": "NOTIFICATIONS"}
OFFSET = 300  # ports 8301-8303, beside a system a developer may be running


@pytest.fixture
async def demo_env(unique: str, topic_prefix: str) -> AsyncIterator[dict[str, str]]:
    env = {**os.environ, "COLUMNS": "200"}
    for service, prefix in SERVICES.items():
        dsn = with_database(ADMIN_DSN, f"t_{unique}_{service}")
        await ensure_database(dsn)
        env[f"{prefix}_DATABASE_URL"] = dsn
        env[f"{prefix}_KAFKA__BOOTSTRAP_SERVERS"] = KAFKA_BOOTSTRAP
        env[f"{prefix}_KAFKA__TOPIC_PREFIX"] = topic_prefix
    env["EVENTS_MEMBERSHIP_URL"] = f"http://127.0.0.1:{8001 + OFFSET}"
    try:
        yield env
    finally:
        for service in SERVICES:
            await drop_database(with_database(ADMIN_DSN, f"t_{unique}_{service}"))


def run_until_ready(env: dict[str, str]) -> str:
    """Start the run command, wait for its "Where to look", then stop it with SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "services.operator", "run", "--port-offset", str(OFFSET)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + 120
    try:
        for line in process.stdout:
            output.append(line)
            if "Ctrl-C stops the services" in line or time.monotonic() > deadline:
                break
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
        output.append(rest)
    return "".join(output)


async def counts(env: dict[str, str]) -> tuple[int, int]:
    membership = await asyncpg.connect(env["MEMBERSHIP_DATABASE_URL"])
    events = await asyncpg.connect(env["EVENTS_DATABASE_URL"])
    try:
        return (
            await membership.fetchval("SELECT count(*) FROM events"),
            await events.fetchval("SELECT count(*) FROM events"),
        )
    finally:
        await membership.close()
        await events.close()


async def test_the_run_command_starts_the_demo_and_a_second_run_duplicates_nothing(
    demo_env: dict[str, str],
) -> None:
    first = await asyncio.to_thread(run_until_ready, demo_env)
    assert "Where to look" in first, first
    assert "registration from 851: confirmed" in first
    after_first = await counts(demo_env)

    second = await asyncio.to_thread(run_until_ready, demo_env)
    assert "Where to look" in second, second
    assert "already there" in second
    assert await counts(demo_env) == after_first, "the second run wrote no new events"
    async with httpx.AsyncClient(headers=auth.OPERATOR, timeout=1) as client:
        for port in (8001 + OFFSET, 8002 + OFFSET, 8003 + OFFSET):
            with pytest.raises(httpx.TransportError):  # stopped with the command
                await client.get(f"http://127.0.0.1:{port}/healthz")
