"""The supervisor with real processes (no stack needed): a killed process is started again
and answers again; one that exits at once every time is given up with a clear message."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from services.operator.processes import ServiceProcess
from services.operator.supervisor import RestartPolicy, State, Supervisor
from tests.support.ports import free_port
from tests.support.waiting import wait_until

FAST = RestartPolicy(first_delay=0.1, max_delay=0.4, max_restarts=3, window=60)


def supervised(
    folder: Path, name: str, command: str
) -> tuple[ServiceProcess, Supervisor, list[str]]:
    """``python -m services.operator <command>`` under a supervisor with a fast policy."""
    process = ServiceProcess(
        name,
        free_port(),
        log_path=folder / f"{name}.log",
        module="services.operator",
        args=(command,),
    )
    said: list[str] = []
    return process, Supervisor([process], FAST, say=said.append), said


async def supervise_until(
    supervisor: Supervisor, said: list[str], done: str, timeout: float = 60
) -> None:
    """Run the supervisor's rounds (as ``operator run`` does) until it has said ``done``."""

    async def round_() -> bool:
        await asyncio.to_thread(supervisor.check)
        return any(done in line for line in said)

    await wait_until(round_, timeout=timeout, interval=0.05, what=done)


async def test_a_killed_process_is_started_again_and_answers_again(tmp_path: Path) -> None:
    issuer, supervisor, said = supervised(tmp_path, "issuer", "dev-issuer")
    try:
        supervisor.start()
        await supervise_until(supervisor, said, "issuer: ready at")
        first = issuer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await supervise_until(supervisor, said, "issuer: ready again")
        assert said[1] == (
            "issuer: killed by SIGKILL; starting it again in 0.1 s "
            "(restart 1 of at most 3 within 60 s)"
        )
        assert issuer.pid != first
        assert await asyncio.to_thread(issuer.ready)
    finally:
        await asyncio.to_thread(supervisor.stop)
    assert issuer.exit_code() is not None, "stopped with the supervisor"


async def test_a_process_that_keeps_exiting_is_given_up(tmp_path: Path) -> None:
    # The command line refuses an unknown command: exit status 2, at once, every time.
    broken, supervisor, said = supervised(tmp_path, "broken", "no-such-command")
    try:
        supervisor.start()
        await supervise_until(supervisor, said, "giving up")
    finally:
        await asyncio.to_thread(supervisor.stop)
    assert supervisor.state("broken") is State.GIVEN_UP
    assert not supervisor.watching
    assert [line.split(";")[0] for line in said if "starting it again" in line] == [
        "broken: exit status 2"
    ] * 3
    assert said[-1].startswith("broken: exit status 2 again after 3 restarts within 60 s;")
    assert f"Its log: {tmp_path / 'broken.log'}" in said[-1]
    assert "No such command" in broken.log_tail()
