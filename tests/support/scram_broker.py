"""A second Kafka that asks for SASL/SCRAM (and offers SASL_SSL), for the security tests.

``deploy/local/stack.sh`` runs it beside the stack's PLAINTEXT Kafka when
``KAFKA_SECURITY=scram`` (own ports 19094-19096, own folder ``var/kafka-scram``, users made
when its storage is formatted). :func:`scram_broker` starts it if it is not running and stops
it again afterwards; one that was already running (a developer's) is used and left running.
The client settings come from ``stack.sh env``, as an operator would get them.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.kernel.kafka import KafkaSettings, kafka_settings_from_env

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "deploy" / "local" / "stack.sh"


@dataclass(frozen=True)
class ScramBroker:
    scram: KafkaSettings
    """SASL_PLAINTEXT with SCRAM-SHA-512, as ``KAFKA_SECURITY=scram stack.sh env`` says."""
    tls: KafkaSettings
    """SASL_SSL (SCRAM-SHA-512 over TLS, the stack's CA), as ``KAFKA_SECURITY=scram-tls``."""
    started_in: float | None
    """Seconds ``stack.sh up kafka`` took, when this session started the broker."""


def _stack(security: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_SECURITY": security}
    env.setdefault("STACK_PYTHON", sys.executable)
    return subprocess.run(
        ["/bin/bash", str(STACK), *args, "kafka"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _settings(security: str) -> KafkaSettings:
    """``KAFKA_*`` lines of ``stack.sh env kafka`` as KafkaSettings."""
    result = _stack(security, "env", timeout=30)
    assert result.returncode == 0, result.stderr
    values: dict[str, str] = {}
    for line in result.stdout.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and words[1].startswith("KAFKA_"):
            name, _, value = words[1].partition("=")
            values[name] = value
    return kafka_settings_from_env(values)


@contextmanager
def scram_broker() -> Iterator[ScramBroker]:
    started_in: float | None = None
    if _stack("scram", "status", timeout=30).returncode != 0:
        t0 = time.monotonic()
        up = _stack("scram", "up", timeout=180)
        assert up.returncode == 0, f"stack.sh up kafka (scram) failed:\n{up.stdout}\n{up.stderr}"
        started_in = time.monotonic() - t0
        print(f"SCRAM Kafka started in {started_in:.1f}s")
    try:
        yield ScramBroker(
            scram=_settings("scram"), tls=_settings("scram-tls"), started_in=started_in
        )
    finally:
        if started_in is not None:
            down = _stack("scram", "down", timeout=120)
            assert down.returncode == 0, down.stderr
