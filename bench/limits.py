"""The machine's limits, measured in the same run as the rush, to read its numbers against.

- PostgreSQL: commits per second of one single-row INSERT per transaction (pgbench, the
  server the services use, as many clients as the rush has connections in its pool).
- Kafka: messages per second produced to the same broker by one idempotent aiokafka
  producer (acks=all), with the size of a typical event.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


@dataclass(frozen=True)
class Limits:
    pg_commits_per_s: float
    pg_clients: int
    kafka_messages_per_s: float
    kafka_message_bytes: int


def _pgbench() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(candidate)
    raise RuntimeError("pgbench not found: apt-get install postgresql-contrib or postgresql-15")


async def postgres_commit_rate(admin_dsn: str, clients: int = 16, seconds: int = 10) -> float:
    """Transactions per second of ``INSERT INTO t VALUES (...)`` with ``clients`` clients."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_commit_limit")
        await conn.execute(
            "CREATE TABLE bench_commit_limit (id bigserial PRIMARY KEY, v int, at timestamptz)"
        )
    finally:
        await conn.close()
    parts = urlsplit(admin_dsn)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("INSERT INTO bench_commit_limit (v, at) VALUES (1, now());\n")
    env = {
        **os.environ,
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": parts.username or "postgres",
        "PGDATABASE": parts.path.lstrip("/") or "postgres",
    }
    if parts.password:
        env["PGPASSWORD"] = parts.password
    try:
        out = await asyncio.to_thread(
            subprocess.run,
            [
                _pgbench(),
                "-n",
                "-f",
                script.name,
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(seconds),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    finally:
        os.unlink(script.name)
    match = re.search(r"tps = ([0-9.]+)", out.stdout)
    if not match:
        raise RuntimeError(f"pgbench printed no tps:\n{out.stdout}\n{out.stderr}")
    return float(match.group(1))


async def kafka_produce_rate(
    bootstrap: str, topic: str, count: int = 50_000, size: int = 600
) -> float:
    """Messages per second for ``count`` messages of ``size`` bytes, acks=all, idempotent."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            await admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2
    )
    await producer.start()
    payload = b"x" * size
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, payload, key=f"k{i % 500}".encode()) for i in range(count)
        ]
        await asyncio.gather(*futures)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def measure(
    admin_dsn: str,
    bootstrap: str,
    topic: str,
    clients: int = 16,
    seconds: int = 10,
    messages: int = 50_000,
) -> Limits:
    pg = await postgres_commit_rate(admin_dsn, clients=clients, seconds=seconds)
    kafka = await kafka_produce_rate(bootstrap, topic, count=messages)
    return Limits(pg, clients, kafka, 600)
