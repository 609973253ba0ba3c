"""The rush: registrations from many concurrent clients against the events service process.

The events service runs as its own process (``python -m services.events``) on a fresh
database and a unique topic prefix, with its clock before the meeting. Memberships reach
it the way they do in production: MembershipJoined CloudEvents on the membership topic,
published before the rush; the harness waits until the service's membership view holds
them all, so no registration needs the (unreachable) membership service.

Then the load generator (its own process) sends the registrations, and the harness checks:
seats given equal the seats, the waiting list in the event store is 1..n in stream order
and agrees with the HTTP answers, and measures how long the availability projection takes
to show the final state and the projection's lag per event.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from bench.common import (
    ADMIN_DSN,
    CLOCK_AS_OF,
    KAFKA_BOOTSTRAP,
    MUNICIPALITIES,
    auth_env,
    fresh_database,
    percentile,
    proc_cpu_seconds,
    proc_status,
    stack_cpu_between,
    stack_cpu_seconds,
    unique,
)
from bench.common import token as bench_token
from bench.loadgen import participant
from contracts import membership as membership_wire
from contracts.envelope import Envelope, encode
from services.kernel.db import drop_database
from services.kernel.kafka import KafkaSettings
from services.kernel.privacy import seal
from services.operator.kafka_tools import delete_topics_with_prefix
from services.operator.processes import ROOT, ServiceProcess
from tests.support.ports import free_port

PROJECTIONS_CONSUMER = "events-projections"


@dataclass(frozen=True)
class RushSpec:
    name: str
    meetings: int
    seats_per_meeting: int
    registrations: int
    concurrency: int


def spec(part: str, quick: bool) -> RushSpec:
    if part == "rush":
        return RushSpec("rush", 1, 50, 400, 50) if quick else RushSpec("rush", 1, 500, 5000, 200)
    return RushSpec("many", 5, 10, 400, 50) if quick else RushSpec("many", 50, 10, 5000, 200)


async def publish_memberships(prefix: str, year: int, codes: list[str]) -> None:
    """MembershipJoined for each municipality, as the membership service would publish it."""
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA_BOOTSTRAP, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        futures = []
        for code in codes:
            membership_id = f"membership-knub-{year}-{code}"
            payload = membership_wire.MembershipJoined(
                membership_id=membership_id,
                network_slug="knub",
                municipality_code=code,
                year=year,
                occurred_at=datetime(2021, 11, 1, 9, tzinfo=UTC),
                municipality_name=f"Kommune {code}",
                # The events service never opens the contact: sealed with a throw-away key.
                contact_person_id=f"person-{int(code):032x}",
                contact_sealed=seal(f"person-{int(code):032x}", os.urandom(32), {"name": "K"}),
                ean="5798000000001",
                fee_dkk=7500,
            )
            wire = encode(
                Envelope(
                    type=payload.type_name(),
                    source="/kl/membership",
                    subject=membership_id,
                    data=payload.to_data(),
                )
            )
            futures.append(
                await producer.send(
                    prefix + membership_wire.MEMBERSHIP_TOPIC,
                    value=wire.value,
                    key=wire.key,
                    headers=list(wire.headers),
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _wait(probe: Any, timeout: float, what: str, interval: float = 0.05) -> float:
    """Poll ``probe`` until true; the seconds it took."""
    started = time.perf_counter()
    while not await probe():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{what}: not after {timeout}s")
        await asyncio.sleep(interval)  # polling the running service from outside
    return time.perf_counter() - started


def _meeting_body(slug: str, seats: int) -> dict[str, Any]:
    return {
        "slug": slug,
        "network_slug": "knub",
        "year": 2021,
        "title": "3. netværksmøde 2021",
        "description": "Systematisering af anvisning og udlejning",
        "starts_at": "2021-12-08T10:00:00",
        "ends_at": "2021-12-08T15:30:00",
        "venue_name": "KL-huset",
        "venue_address": "Weidekampsgade 10, 2300 København S",
        "seats": seats,
        "registration_deadline": "2021-12-03T12:00:00",
    }


def run_loadgen(load: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, result_path = Path(tmp, "spec.json"), Path(tmp, "result.json")
        spec_path.write_text(json.dumps(load))
        subprocess.run(
            [sys.executable, "-m", "bench.loadgen", str(spec_path), str(result_path)],
            cwd=ROOT,
            check=True,
        )
        result: dict[str, Any] = json.loads(result_path.read_text())
        return result


async def run(part: str, quick: bool = False, keep_log: Path | None = None) -> dict[str, Any]:
    """One rush (``part`` = "rush" or "many"); the measurements and the checks."""
    s = spec(part, quick)
    token = unique()
    dsn = await fresh_database(f"bench_{s.name}_{token}")
    prefix = f"bench{token}."
    api_instances = int(os.environ.get("BENCH_API_INSTANCES", "1"))
    ports = [free_port() for _ in range(api_instances)]
    env = {
        "EVENTS_DATABASE_URL": dsn,
        "EVENTS_PRIVACY__DATABASE_URL": dsn,
        "EVENTS_KAFKA__BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
        "EVENTS_KAFKA__TOPIC_PREFIX": prefix,
        "EVENTS_CLOCK_AS_OF": CLOCK_AS_OF,
        "EVENTS_MEMBERSHIP_URL": "http://127.0.0.1:9",  # unreachable: the view must know
        **auth_env("EVENTS"),
    }
    logs = keep_log or ROOT / "var" / "log" / f"bench-{s.name}-{token}.log"
    # As an operator scales it: API instances answer HTTP and decide (no relay, no
    # subscribers; ``BENCH_API_INSTANCES``, default 1), one instance relays the outbox and
    # keeps the read models.
    apis = [
        ServiceProcess(
            "events",
            port,
            {**env, "EVENTS_WORKERS": "false"},
            logs if k == 0 else logs.with_name(f"{logs.stem}-api{k}.log"),
        )
        for k, port in enumerate(ports)
    ]
    service = apis[0]
    worker = ServiceProcess("events", free_port(), env, logs.with_name(logs.stem + "-worker.log"))
    for api in apis:
        api.start()
    worker.start()
    conn: asyncpg.Connection | None = None
    try:
        for api in apis:
            await asyncio.to_thread(api.wait_ready, 90.0)
        await asyncio.to_thread(worker.wait_ready, 90.0)
        pids = [api.process.pid for api in apis if api.process is not None]
        assert worker.process is not None
        pid = pids[0]
        worker_pid = worker.process.pid
        conn = await asyncpg.connect(dsn)
        profiler = _start_profiler(pid)
        await publish_memberships(prefix, 2021, MUNICIPALITIES)

        async def memberships_known() -> bool:
            assert conn is not None
            n = await conn.fetchval("SELECT count(*) FROM membership_view WHERE status='active'")
            return bool(n == len(MUNICIPALITIES))

        await _wait(memberships_known, 60, "membership view filled")
        slugs = [f"bench-{i:03d}" for i in range(s.meetings)]
        operator = {"Authorization": f"Bearer {bench_token('operator')}"}
        # Every registration signs in as its participant; minted before the clock starts.
        tokens = [
            bench_token("participant", code, email)
            for email, code in (participant(i, MUNICIPALITIES) for i in range(s.registrations))
        ]
        async with httpx.AsyncClient(base_url=service.url, timeout=30, headers=operator) as http:
            for slug in slugs:
                created = await http.post(
                    "/meetings", json=_meeting_body(slug, s.seats_per_meeting)
                )
                created.raise_for_status()
            meeting_ids = [f"meeting-{slug}" for slug in slugs]
            cpu_before = sum(proc_cpu_seconds(p) for p in pids)
            stack_before = stack_cpu_seconds()
            worker_cpu_before = proc_cpu_seconds(worker_pid)
            load = await asyncio.to_thread(
                run_loadgen,
                {
                    "host": "127.0.0.1",
                    "port": ports[0],
                    "ports": ports,
                    "meetings": meeting_ids,
                    "registrations": s.registrations,
                    "concurrency": s.concurrency,
                    "municipalities": MUNICIPALITIES,
                    "tokens": tokens,
                },
            )
            answered_at = time.perf_counter()
            cpu_rush = sum(proc_cpu_seconds(p) for p in pids) - cpu_before
            stack_cpu = stack_cpu_between(stack_before, stack_cpu_seconds())
            worker_cpu_rush = proc_cpu_seconds(worker_pid) - worker_cpu_before
            per_meeting = s.registrations // s.meetings
            waiting_each = per_meeting - s.seats_per_meeting

            async def projection_final() -> bool:
                for mid in meeting_ids:
                    row = (await http.get(f"/meetings/{mid}/availability")).json()
                    if row["taken"] != s.seats_per_meeting or row["waiting"] != waiting_each:
                        return False
                return True

            await _wait(projection_final, 120, "availability projection final", 0.01)
            projection_after_s = time.perf_counter() - answered_at
        memory = max((proc_status(p) for p in pids), key=lambda m: m.get("VmHWM", 0))
        worker_memory = proc_status(worker_pid)
        if profiler is not None:
            profiler.send_signal(2)
            await asyncio.to_thread(profiler.wait, 60)
        checks = await _check(conn, load["results"], meeting_ids, s)
        lags = await _projection_lags(conn, prefix + PROJECTIONS_CONSUMER)
        per_api = [await _batch_sizes(api.url) for api in apis]
        count = sum(b["count"] for b in per_api)
        batches = {
            "count": count,
            "mean": sum(b["count"] * b["mean"] for b in per_api) / count if count else 0.0,
            "per_api": [b["count"] for b in per_api],
        }
    finally:
        if conn is not None:
            await conn.close()
        for api in apis:
            await asyncio.to_thread(api.stop)
        await asyncio.to_thread(worker.stop)
        await drop_database(dsn)
        await delete_topics_with_prefix(KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP), prefix)
    latencies = [r[3] for r in load["results"]]
    return {
        "part": s.name,
        "quick": quick,
        "meetings": s.meetings,
        "seats_per_meeting": s.seats_per_meeting,
        "registrations": s.registrations,
        "concurrency": s.concurrency,
        "api_instances": api_instances,
        "wall_s": load["wall_s"],
        "decisions_per_s": s.registrations / load["wall_s"],
        "latency_ms": {
            p: percentile(latencies, float(p)) * 1000 for p in ("50", "95", "99", "100")
        },
        "projection_final_after_s": projection_after_s,
        "projection_lag_ms": lags,
        "service_vmhwm_mb": memory.get("VmHWM", 0) / 1024,
        "service_cpu_s": cpu_rush,
        "worker_vmhwm_mb": worker_memory.get("VmHWM", 0) / 1024,
        "worker_cpu_s": worker_cpu_rush,
        "loadgen_cpu_s": load["cpu_s"],
        "postgres_cpu_s": stack_cpu["postgres"],
        "kafka_cpu_s": stack_cpu["kafka"],
        "batches": batches,
        **checks,
    }


def _start_profiler(pid: int) -> subprocess.Popen[bytes] | None:
    """``BENCH_PROFILE=out.txt``: sample the service with py-spy (collapsed stacks)."""
    out = os.environ.get("BENCH_PROFILE")
    if not out:
        return None
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "-p",
            str(pid),
            "-o",
            out,
            "--format",
            "raw",
            "-r",
            "200",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _check(
    conn: asyncpg.Connection, results: list[list[Any]], meeting_ids: list[str], s: RushSpec
) -> dict[str, Any]:
    """Seats given, waiting-list order in the event store, and agreement with the answers."""
    statuses: dict[int, int] = {}
    for r in results:
        statuses[r[2]] = statuses.get(r[2], 0) + 1
    confirmed_http = {r[4] for r in results if r[2] == 201}
    waiting_http = {r[4]: r[5] for r in results if r[2] == 202}
    seats_given = 0
    violations = 0
    disagreements = 0
    for idx, mid in enumerate(meeting_ids):
        rows = await conn.fetch(
            """SELECT event_type, data->>'registration_id' AS rid,
                      (data->>'position')::int AS position
               FROM events WHERE stream_id = $1 AND event_type LIKE '%registration_%'
               ORDER BY version""",
            mid,
        )
        confirmed = [r["rid"] for r in rows if "registration_confirmed" in r["event_type"]]
        waitlisted = [(r["rid"], r["position"]) for r in rows if "waitlisted" in r["event_type"]]
        seats_given += len(confirmed)
        if len(confirmed) > s.seats_per_meeting:
            violations += 1  # overbooked
        expected = list(range(1, len(waitlisted) + 1))
        if [p for _, p in waitlisted] != expected:
            violations += (
                sum(
                    1
                    for got, want in zip((p for _, p in waitlisted), expected, strict=False)
                    if got != want
                )
                or 1
            )
        for rid, position in waitlisted:
            if waiting_http.get(rid) != position:
                disagreements += 1
        mine = {r[4] for r in results if r[1] == idx and r[2] == 201}
        disagreements += len(mine ^ set(confirmed))
    return {
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seats_given": seats_given,
        "seats": s.meetings * s.seats_per_meeting,
        "waitlisted": len(waiting_http),
        "order_violations": violations,
        "http_disagreements": disagreements,
        "confirmed_http": len(confirmed_http),
    }


async def _projection_lags(
    conn: asyncpg.Connection, consumer: str, stream_id: str | None = None
) -> dict[str, float]:
    """processed_at - recorded_at per event of the projection's consumer (ms); of one
    stream's events only, when ``stream_id`` names it.

    ``processed_at`` is the start of the subscriber's transaction (``now()``), so the
    number of distinct values is the number of its transactions (batches).
    """
    rows = await conn.fetch(
        """SELECT extract(epoch FROM p.processed_at - e.recorded_at) * 1000 AS lag,
                  p.processed_at
           FROM processed_events p JOIN events e USING (event_id)
           WHERE p.consumer = $1 AND ($2::text IS NULL OR e.stream_id = $2)""",
        consumer,
        stream_id,
    )
    lags = [float(r["lag"]) for r in rows]
    relay = [
        float(r[0])
        for r in await conn.fetch(
            """SELECT extract(epoch FROM o.published_at - e.recorded_at) * 1000
               FROM outbox o JOIN events e USING (event_id)
               WHERE o.published_at IS NOT NULL AND ($1::text IS NULL OR e.stream_id = $1)""",
            stream_id,
        )
    ]
    transactions = len({r["processed_at"] for r in rows})
    return {
        "events": len(lags),
        "transactions": int(transactions),
        "relay_p50": percentile(relay, 50),
        "relay_p99": percentile(relay, 99),
        "p50": percentile(lags, 50),
        "p99": percentile(lags, 99),
        "max": max(lags) if lags else float("nan"),
    }


async def _batch_sizes(url: str) -> dict[str, float]:
    """From the service's /metrics: how many decision batches and their mean size."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{url}/metrics")).text
    count = total = 0.0
    for line in text.splitlines():
        if line.startswith("events_meeting_batch_size_count"):
            count = float(line.split()[-1])
        elif line.startswith("events_meeting_batch_size_sum"):
            total = float(line.split()[-1])
    return {"count": count, "mean": total / count if count else 0.0}


__all__ = ["ADMIN_DSN", "run", "spec"]
