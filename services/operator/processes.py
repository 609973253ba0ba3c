"""Service processes started by the operator command line and the end-to-end tests.

Each service runs as its own OS process (``python -m services.<name>``), as in production;
this module starts one, waits until ``/readyz`` answers, and stops or kills it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]

ENV_PREFIX = {
    "membership": "MEMBERSHIP",
    "events": "EVENTS",
    "notifications": "NOTIFICATIONS",
    "web": "WEB",
}
DEFAULT_PORT = {"membership": 8001, "events": 8002, "notifications": 8003, "web": 8000}


class ServiceNotReadyError(RuntimeError):
    """A service process did not become ready in time (its log tail is in the message)."""


@dataclass
class ServiceProcess:
    """One running instance of a service."""

    service: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    module: str | None = None
    """The module to run (default ``services.<service>``)."""
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        prefix = ENV_PREFIX.get(self.service, self.service.upper())
        env = {
            **os.environ,
            f"{prefix}_HOST": "127.0.0.1",
            f"{prefix}_PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        log_path = self.log_path or ROOT / "var" / "log" / f"{self.service}-{self.port}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
                [sys.executable, "-m", self.module or f"services.{self.service}", *self.args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until ``/readyz`` answers 200; raise with the log's tail otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceNotReadyError(
                    f"{self.service} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)  # wait-ok: polling a starting process, bounded by the deadline
        raise ServiceNotReadyError(
            f"{self.service} not ready after {timeout:.0f}s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not end in ``timeout`` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
