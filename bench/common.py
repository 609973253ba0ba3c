"""What every benchmark part shares: the stack's addresses, fresh databases, the machine."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg

from services.kernel.auth import Role, jwks_json
from services.kernel.db import drop_database, ensure_database, with_database
from services.operator.dev_issuer import SigningKey, claims_for

ROOT = Path(__file__).resolve().parents[1]
KAFKA_BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
ADMIN_DSN = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:55432/postgres")
CLOCK_AS_OF = "2021-11-19T09:00:00+01:00"
"""The service's clock during a run: the meeting (8 December 2021) lies in its future."""

MUNICIPALITIES = [
    "101", "147", "151", "153", "155", "157", "159", "161", "163", "165", "167", "169",
    "173", "175", "183", "185", "187", "190", "201", "210", "217", "219", "223", "230",
    "240", "250", "253", "259", "260", "265", "269", "270", "306", "316", "320", "326",
    "329", "330", "336", "340", "350", "360", "370", "376", "390", "400", "410", "420",
    "430", "440", "450", "461", "479", "480", "482", "492", "510", "530", "540", "550",
    "561", "563", "573", "575", "580", "607", "615", "621", "630", "657", "661", "665",
    "671", "706", "707", "710", "727", "730", "740", "741", "746", "751", "756", "760",
    "766", "773", "779", "787", "791", "810", "813", "820", "825", "840", "846", "849",
    "851", "860",
]  # fmt: skip
"""The 98 municipality codes."""


ISSUER = "https://login.bench.kl.dk"
AUDIENCE = "kl-netvaerk-bench"
_KEY = SigningKey(kid="bench-key")
"""The benchmark's own signing key: the services it starts trust it (:func:`auth_env`)."""


def auth_env(prefix: str) -> dict[str, str]:
    """Environment of a service process that accepts the benchmark's tokens (and runs with
    the key vault's development key and pepper: a development run, said explicitly)."""
    return {
        f"{prefix}_AUTH__ISSUER": ISSUER,
        f"{prefix}_AUTH__AUDIENCE": AUDIENCE,
        f"{prefix}_AUTH__JWKS": jwks_json(_KEY.jwks()),
        f"{prefix}_DEVELOPMENT": "true",
    }


def token(role: Role, municipality: str | None = None, email: str | None = None) -> str:
    """A token of ``role`` that the services started with :func:`auth_env` accept."""
    return _KEY.token(
        claims_for(
            role,
            issuer=ISSUER,
            audience=AUDIENCE,
            municipality_code=municipality,
            email=email,
            lifetime_s=3600,
        )
    )


def unique() -> str:
    return uuid.uuid4().hex[:10]


async def fresh_database(name: str) -> str:
    dsn = with_database(ADMIN_DSN, name)
    await drop_database(dsn)
    await ensure_database(dsn)
    return dsn


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM / VmRSS (kB) of a process, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0])
    return out


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def stack_cpu_seconds() -> dict[str, dict[int, float]]:
    """CPU seconds so far of the stack's processes on this machine, per process id:
    ``postgres`` (the server and every backend) and ``kafka`` (the broker's JVM)."""
    out: dict[str, dict[int, float]] = {"postgres": {}, "kafka": {}}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            kind = (
                "postgres"
                if comm.startswith("postgres")
                else "kafka"
                if comm == "java" and b"kafka.Kafka" in (entry / "cmdline").read_bytes()
                else None
            )
        except OSError:
            continue
        if kind is not None:
            out[kind][int(entry.name)] = proc_cpu_seconds(int(entry.name))
    return out


def stack_cpu_between(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """CPU seconds each part of the stack used between two :func:`stack_cpu_seconds`
    (a process started in between counts from zero; one that ended is not seen)."""
    return {
        kind: sum(t - before[kind].get(pid, 0.0) for pid, t in after[kind].items())
        for kind in after
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            return int(line.split()[1]) // 1024
    return 0


def _kafka_version() -> str:
    # Only the jars' folder: a glob over var/ walks Kafka's data folders, which the broker
    # deletes under it when a run's topics are deleted.
    jars = sorted((ROOT / "var" / "kafka" / "libs").glob("kafka_2.13-*.jar"))
    for jar in jars:
        match = re.search(r"kafka_2\.13-([0-9.]+)\.jar$", jar.name)
        if match:
            return match.group(1)
    return "4.1.1 (deploy/local)"


def _git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip()


async def machine(admin_dsn: str = ADMIN_DSN) -> dict[str, Any]:
    """Where the numbers come from: machine, versions, load."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        pg_version = await conn.fetchval("SHOW server_version")
        settings = {
            r["name"]: r["setting"]
            for r in await conn.fetch(
                """SELECT name, setting FROM pg_settings WHERE name IN
                   ('synchronous_commit', 'fsync', 'shared_buffers', 'max_connections')"""
            )
        }
    finally:
        await conn.close()
    packages = {}
    for name in ("fastapi", "uvicorn", "asyncpg", "aiokafka", "faststream", "pydantic", "orjson",
                 "httptools", "uvloop", "cloudevents"):  # fmt: skip
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    return {
        "nproc": os.cpu_count(),
        "memory_mb": _mem_total_mb(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "postgresql": pg_version,
        "postgresql_settings": settings,
        "kafka": _kafka_version(),
        "packages": packages,
        "load_average": load_average(),
        "git_commit": _git_commit(),
    }
