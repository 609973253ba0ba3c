"""Service processes started by the operator command line and the end-to-end tests.

Each service runs as its own OS process (``python -m services.<name>``), as in production;
this module starts one, waits until ``/readyz`` answers, and stops or kills it.
"""

from __future__ import annotations

import importlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.kernel.db import database_name, with_database

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.sh"

ENV_PREFIX = {
    "membership": "MEMBERSHIP",
    "events": "EVENTS",
    "notifications": "NOTIFICATIONS",
    "web": "WEB",
}
DEFAULT_PORT = {"membership": 8001, "events": 8002, "notifications": 8003, "web": 8000}


BACKENDS = ("membership", "events", "notifications")
"""The services with a database and Kafka (the web pages have neither)."""


def default_database(service: str) -> str:
    """The database a service uses by default (from its ``config.py``): ``membership`` ..."""
    config = importlib.import_module(f"services.{service}.config")
    return database_name(config.Settings.model_fields["database_url"].default)


def vault_database() -> str:
    """The key vault's database, shared by the services (``kl_privacy``)."""
    from services.kernel.privacy import PrivacySettings

    return database_name(PrivacySettings.model_fields["database_url"].default)


def stack_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What ``deploy/local/stack.sh env`` exports for the stack that ``environ`` names
    (its port variables: KAFKA_PORT, PG_PORT, SMTP_PORT, ISSUER_PORT ...); nothing where
    the script is not (an installed package without ``deploy/``)."""
    if not STACK.is_file():
        return {}
    result = subprocess.run(  # noqa: S603 - our own script
        [str(STACK), "env"],
        env=dict(environ),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    values: dict[str, str] = {}
    for line in result.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = shlex.split(line.removeprefix("export "))[0].partition("=")
            values[name] = value
    return values


def service_environment(stack: Mapping[str, str]) -> dict[str, str]:
    """The services' own settings that follow from the stack's: each service's database on
    the stack's server, the vault's, Kafka, the SMTP sink. (What ``stack.sh env`` prints per
    service already, such as ``EVENTS_AUTH__ISSUER``, is passed on as it is.)"""
    env = {k: v for k, v in stack.items() if k.split("_", 1)[0] in ENV_PREFIX.values()}
    admin = stack.get("DATABASE_URL")
    for service in BACKENDS:
        prefix = ENV_PREFIX[service]
        if admin:
            env[f"{prefix}_DATABASE_URL"] = with_database(admin, default_database(service))
            env[f"{prefix}_PRIVACY__DATABASE_URL"] = with_database(admin, vault_database())
        if "KAFKA_BOOTSTRAP_SERVERS" in stack:
            env.setdefault(f"{prefix}_KAFKA__BOOTSTRAP_SERVERS", stack["KAFKA_BOOTSTRAP_SERVERS"])
    if "SMTP_HOST" in stack:
        env["NOTIFICATIONS_SMTP_HOST"] = stack["SMTP_HOST"]
    if "SMTP_PORT" in stack:
        env["NOTIFICATIONS_SMTP_PORT"] = stack["SMTP_PORT"]
    return env


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

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def exit_code(self) -> int | None:
        """None while it runs (or was never started); else its exit status, negative for
        the signal that ended it."""
        if self.process is None:
            return None
        return self.process.poll()

    def ready(self, timeout: float = 1.0) -> bool:
        """``/readyz`` answers 200 now."""
        try:
            return httpx.get(f"{self.url}/readyz", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

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
            if self.ready():
                return
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
