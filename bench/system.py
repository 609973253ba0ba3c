"""The whole system under the seed's rush: every service as `make run` starts it, and the mail.

Membership, events and notifications each run as their own process (one instance each, as
``make run`` starts them, with their default settings), on fresh databases, a unique
topic prefix and the clock as of 19 November 2021; a key vault database shared by the
three; and an SMTP sink process (``deploy/local/smtp_sink.py``) writing a Maildir of the
run's own, standing in for KL's mail relay.

Before the clock starts: the municipalities that are members of 2021 join through the
membership API (their welcome mails are delivered and set aside), and two meetings are
scheduled: the 8 December meeting with the seed's offer (members of 2022 come free) and
a guest price, and a members-only meeting. Then the load generator (its own process)
sends the rush from keep-alive clients, a mix of the callers the seed implies:

- staff of member municipalities of 2021 (a seat or the waiting list, free);
- municipalities that join 2022 during the rush, and whose staff register the moment the
  join is answered (the offer: free, while seats last);
- staff of non-members at the guest price;
- staff of non-members who try the members-only meeting (refused: 403).

Measured: decisions per second and latency; for every 201/202, the time from the answer
until its mail is in the Maildir (the file's mtime), and the last mail after the last
answer; how many times the events service asked the membership service (the membership
service's own request counter for its lookup route); CPU of every process from the first
request until the last mail, per registration. Checked: every answered registration got
exactly one mail and no one got a mail twice; seats given = seats; the waiting list in the
store is 1..n and agrees with the answers; every caller got the basis their kind implies
(a municipality that joined a moment before is never a guest).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import (
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
from bench.rush import _check, _meeting_body, _projection_lags, _wait, run_loadgen
from services.events.entrypoints.subscribers import PROJECTIONS_CONSUMER
from services.kernel.db import drop_database
from services.kernel.kafka import KafkaSettings
from services.operator.kafka_tools import delete_topics_with_prefix
from services.operator.processes import ENV_PREFIX, ROOT, ServiceProcess
from tests.support.ports import free_port

SERVICES = ("membership", "events", "notifications")
LOOKUP_ROUTE = "/networks/{slug}/memberships/{year}/{municipality_code}"
KINDS = ("member", "offer", "guest", "refused")


@dataclass(frozen=True)
class SystemSpec:
    registrations: int
    concurrency: int
    seats: int
    members: int
    """Municipalities that are members of 2021 before the rush."""
    offer: int
    """Municipalities that join 2022 during the rush (the offer)."""
    guests: int
    """Non-member municipalities registering at the guest price."""
    share: tuple[float, float, float, float]
    """Shares of the registrations: member, offer, guest, refused."""
    mail_timeout_s: float
    path_registrations: int
    """Each path alone (members only, then guests only), on a meeting of its own."""


def spec(quick: bool) -> SystemSpec:
    share = (0.5, 0.2, 0.2, 0.1)
    if quick:
        return SystemSpec(400, 50, 50, 20, 8, 10, share, 120, 200)
    return SystemSpec(5000, 200, 500, 40, 20, 25, share, 900, 2000)


def path_requests(
    kind: str, codes: list[str], meeting: str, count: int, port: int
) -> list[dict[str, Any]]:
    """``count`` registrations for ``meeting``, all from ``codes`` (one kind of caller)."""
    return [
        registration(port, meeting, i, codes[i % len(codes)], f"{kind}-path{i}")
        for i in range(count)
    ]


def registration(port: int, meeting: str, i: int, code: str, who: str) -> dict[str, Any]:
    """A participant of ``code`` registers for ``meeting``, signed in as themselves."""
    email = f"{who}@kommune{code}.dk"
    return {
        "port": port,
        "method": "POST",
        "path": f"/meetings/{meeting}/registrations",
        "token": bench_token("participant", code, email),
        "body": {
            "name": f"Deltager {i}",
            "email": email,
            "job_title": "Boligsocial medarbejder",
            "municipality_code": code,
        },
    }


def ean(code: str) -> str:
    """A valid EAN-13 location number for a municipality (GS1 check digit)."""
    digits = [int(c) for c in f"579800{int(code):03d}000"]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Plan:
    """Who does what in the rush: the request list and what each request is."""

    members: list[str]
    offer: list[str]
    guests: list[str]
    refused: list[str]
    requests: list[dict[str, Any]]
    kinds: list[str]
    """Per request: member, offer, guest, refused, or join."""
    emails: list[str | None]
    """Per request: the participant's e-mail (None for a join)."""


def plan(s: SystemSpec, ports: dict[str, int], meetings: tuple[str, str]) -> Plan:
    """The rush's requests, in a fixed pseudo-random mix (the same every run)."""
    rng = random.Random(2021_12_08)
    codes = list(MUNICIPALITIES)
    rng.shuffle(codes)
    members = codes[: s.members]
    offer = codes[s.members : s.members + s.offer]
    guests = codes[s.members + s.offer : s.members + s.offer + s.guests]
    refused = codes[s.members + s.offer + s.guests :]
    counts = [round(s.registrations * f) for f in s.share]
    counts[0] += s.registrations - sum(counts)
    kinds = [k for k, n in zip(KINDS, counts, strict=True) for _ in range(n)]
    rng.shuffle(kinds)
    # The offer's joins go out during the first 40 % of the rush, evenly; a municipality's
    # staff register only after its join (``after``: they wait for its answer).
    join_at = {
        code: int(k * 0.4 * s.registrations / max(len(offer), 1)) for k, code in enumerate(offer)
    }
    main, members_only = meetings
    requests: list[dict[str, Any]] = []
    out_kinds: list[str] = []
    emails: list[str | None] = []
    join_index: dict[str, int] = {}
    per_kind_count = dict.fromkeys(KINDS, 0)

    def add_join(code: str) -> None:
        join_index[code] = len(requests)
        requests.append(
            {
                "port": ports["membership"],
                "method": "POST",
                "path": "/networks/knub/memberships",
                "token": bench_token("coordinator", code),
                "body": {
                    "municipality_code": code,
                    "year": 2022,
                    "contact_name": f"Koordinator {code}",
                    "contact_email": f"koordinator@kommune{code}.dk",
                    "ean": ean(code),
                },
            }
        )
        out_kinds.append("join")
        emails.append(None)

    for i, kind in enumerate(kinds):
        for code, at in join_at.items():
            if at == i and code not in join_index:
                add_join(code)
        pool = {"member": members, "offer": offer, "guest": guests, "refused": refused}[kind]
        n = per_kind_count[kind]
        per_kind_count[kind] += 1
        if kind == "offer":
            # Only municipalities whose join has gone out (the first goes out at once).
            joined = [c for c in offer if c in join_index]
            code = joined[n % len(joined)]
        else:
            code = pool[n % len(pool)]
        meeting = members_only if kind == "refused" else main
        request = registration(ports["events"], meeting, i, code, f"{kind}{i}")
        request["after"] = join_index.get(code) if kind == "offer" else None
        requests.append(request)
        out_kinds.append(kind)
        emails.append(request["body"]["email"])
    for code in offer:  # joins not placed yet (a tiny rush): at the end
        if code not in join_index:
            add_join(code)
    return Plan(members, offer, guests, refused, requests, out_kinds, emails)


def _env(
    service: str, token: str, dsns: dict[str, str], smtp_port: int, membership_url: str
) -> dict[str, str]:
    """A service's environment as `make run` gives it, on the run's databases and topics."""
    prefix = ENV_PREFIX[service]
    env = {
        f"{prefix}_DATABASE_URL": dsns[service],
        f"{prefix}_PRIVACY__DATABASE_URL": dsns["privacy"],
        f"{prefix}_KAFKA__BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
        f"{prefix}_KAFKA__TOPIC_PREFIX": f"bench{token}.",
        f"{prefix}_CLOCK_AS_OF": CLOCK_AS_OF,
        **auth_env(prefix),
    }
    if service == "events":
        env["EVENTS_MEMBERSHIP_URL"] = membership_url
    if service == "notifications":
        env.update(
            {
                "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
                "NOTIFICATIONS_SMTP_PORT": str(smtp_port),
                "NOTIFICATIONS_CONSUMER_GROUP": f"bench{token}.notifications",
            }
        )
    return env


class Maildir:
    """The sink's Maildir, watched from outside: arrival time (mtime) and recipients of each
    message, read once per file."""

    def __init__(self, path: Path) -> None:
        self.new = path / "new"
        self.seen: dict[str, tuple[float, list[str]]] = {}

    def scan(self) -> int:
        try:
            entries = list(os.scandir(self.new))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if entry.name in self.seen:
                continue
            arrived = entry.stat().st_mtime_ns / 1e9
            recipients = []
            with open(entry.path, "rb") as f:
                for line in f:
                    if not line.startswith(b"X-Envelope-"):
                        break
                    if line.startswith(b"X-Envelope-To:"):
                        recipients.append(line.split(b":", 1)[1].strip().decode().lower())
            self.seen[entry.name] = (arrived, recipients)
        return len(self.seen)

    def at_least(self, count: int) -> Callable[[], Awaitable[bool]]:
        """A probe for :func:`bench.rush._wait`: at least ``count`` messages have arrived."""

        async def probe() -> bool:
            return self.scan() >= count

        return probe

    def by_recipient(self, ignore: set[str]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for name, (arrived, recipients) in self.seen.items():
            if name in ignore:
                continue
            for r in recipients:
                out.setdefault(r, []).append(arrived)
        return out


def start_sink(port: int, maildir: Path) -> subprocess.Popen[bytes]:
    """The local SMTP sink as its own process, writing ``maildir``."""
    script = ROOT / "deploy" / "local" / "smtp_sink.py"
    argv = [sys.executable, str(script), "--port", str(port), "--maildir", str(maildir)]
    return subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _counter(metrics: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus counter's samples whose labels include ``labels``."""
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


async def _lookups(http: httpx.AsyncClient, membership_url: str) -> float:
    text = (await http.get(f"{membership_url}/metrics")).text
    return _counter(text, "http_request_duration_seconds_count", method="GET", route=LOOKUP_ROUTE)


@dataclass(frozen=True)
class Instances:
    """How many processes of each service the run starts.

    ``notifications`` instances share one consumer group and the deliveries table;
    ``events_workers`` 0 runs the events service as one process (as ``make run`` does),
    N > 0 as one API instance (``EVENTS_WORKERS=false``: it answers and decides, no relay,
    no subscribers) beside N worker instances (relay and projections, no load)."""

    notifications: int = 1
    events_workers: int = 0

    def labels(self) -> list[tuple[str, str]]:
        """(label, service) of every process: the first of each service is its plain name."""
        out = [("membership", "membership"), ("events", "events")]
        out += [(f"events worker {k + 1}", "events") for k in range(self.events_workers)]
        out += [
            ("notifications" if k == 0 else f"notifications {k + 1}", "notifications")
            for k in range(self.notifications)
        ]
        return out


AS_MAKE_RUN = Instances()
"""One process of each service."""


def _counters(text: str, group: str, projections: str) -> dict[str, float]:
    """From one process's /metrics: mails it sent, events its subscriptions applied."""
    return {
        "mails_sent": _counter(text, "notification_delivery_attempts_total", outcome="sent"),
        "notifications_applied": _counter(
            text, "events_handled_total", consumer=group, outcome="applied"
        ),
        "projections_applied": _counter(
            text, "events_handled_total", consumer=projections, outcome="applied"
        ),
    }


async def _instance_counters(
    http: httpx.AsyncClient, processes: dict[str, ServiceProcess], group: str, projections: str
) -> dict[str, dict[str, float]]:
    """Per notifications and events process: its counters now."""
    out = {}
    for label, process in processes.items():
        if process.service in ("notifications", "events"):
            text = (await http.get(f"{process.url}/metrics")).text
            out[label] = _counters(text, group, projections)
    return out


async def run(
    quick: bool = False, instances: Instances = AS_MAKE_RUN, *, paths: bool = True
) -> dict[str, Any]:
    """One system rush with ``instances`` (``paths``: then each path alone, too)."""
    s = spec(quick)
    token = unique()
    dsns = {
        name: await fresh_database(f"bench_sys_{token}_{name}") for name in (*SERVICES, "privacy")
    }
    prefix = f"bench{token}."
    logs = ROOT / "var" / "log" / f"bench-system-{token}"
    maildir_path = ROOT / "var" / "bench" / f"mail-{token}"
    smtp_port = free_port()
    ports = {name: free_port() for name in SERVICES}
    membership_url = f"http://127.0.0.1:{ports['membership']}"
    sink = start_sink(smtp_port, maildir_path)
    processes: dict[str, ServiceProcess] = {}
    for label, service in instances.labels():
        env = _env(service, token, dsns, smtp_port, membership_url)
        if label == "events" and instances.events_workers:
            env["EVENTS_WORKERS"] = "false"
        processes[label] = ServiceProcess(
            service,
            ports[label] if label in ports else free_port(),
            env,
            logs.with_name(f"{logs.name}-{label.replace(' ', '-')}.log"),
        )
    group = f"bench{token}.notifications"
    projections = f"{prefix}{PROJECTIONS_CONSUMER}"
    maildir = Maildir(maildir_path)
    operator = {"Authorization": f"Bearer {bench_token('operator')}"}
    main_slug, members_only_slug = f"bench-{token}-main", f"bench-{token}-members"
    meetings = (f"meeting-{main_slug}", f"meeting-{members_only_slug}")
    the_plan = plan(s, ports, meetings)
    conn: asyncpg.Connection | None = None
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            await asyncio.to_thread(process.wait_ready, 90.0)
        pids = {name: p.process.pid for name, p in processes.items() if p.process is not None}
        pids["smtp sink"] = sink.pid
        conn = await asyncpg.connect(dsns["events"])
        async with httpx.AsyncClient(timeout=30, headers=operator) as http:
            # Members of 2021, before the rush; their welcome mails are set aside.
            for code in the_plan.members:
                r = await http.post(
                    f"{membership_url}/networks/knub/memberships",
                    json={
                        "municipality_code": code,
                        "year": 2021,
                        "contact_name": f"Kontakt {code}",
                        "contact_email": f"kontakt@kommune{code}.dk",
                        "ean": ean(code),
                    },
                )
                r.raise_for_status()

            async def members_known() -> bool:
                assert conn is not None
                n = await conn.fetchval(
                    "SELECT count(*) FROM membership_view WHERE status = 'active'"
                )
                return bool(n == len(the_plan.members))

            await _wait(members_known, 60, "the events service's membership view")
            await _wait(maildir.at_least(len(the_plan.members)), 120, "welcome mails")
            before_rush = set(maildir.seen)
            events_url = processes["events"].url
            main = {
                **_meeting_body(main_slug, s.seats),
                "guest_price_dkk": 1500,
                "next_year_members_free": True,
            }
            members_only = _meeting_body(members_only_slug, s.seats)
            for body in (main, members_only):
                (await http.post(f"{events_url}/meetings", json=body)).raise_for_status()
            lookups_before = await _lookups(http, membership_url)
            counters_before = await _instance_counters(http, processes, group, projections)
            cpu_before = {name: proc_cpu_seconds(pid) for name, pid in pids.items()}
            stack_before = stack_cpu_seconds()
            load = await asyncio.to_thread(
                run_loadgen,
                {
                    "host": "127.0.0.1",
                    "concurrency": s.concurrency,
                    "requests": the_plan.requests,
                },
            )
            results = load["results"]
            answered_at = max(r[3] for r in results)
            mailed = [
                i
                for i, r in enumerate(results)
                if the_plan.kinds[i] != "join" and r[1] in (201, 202)
            ]
            joins = sum(
                1 for i, r in enumerate(results) if the_plan.kinds[i] == "join" and r[1] == 201
            )
            expected = len(before_rush) + len(mailed) + joins
            mail_wait = time.perf_counter()
            try:
                await _wait(maildir.at_least(expected), s.mail_timeout_s, "the mail", 0.02)
                mail_timed_out = False
            except TimeoutError:
                mail_timed_out = True
            mail_wait_s = time.perf_counter() - mail_wait
            cpu_each = {
                name: proc_cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()
            }
            # Per service, all its processes together.
            cpu: dict[str, float] = dict.fromkeys(SERVICES, 0.0)
            for name, seconds in cpu_each.items():
                service = processes[name].service if name in processes else name
                cpu[service] = cpu.get(service, 0.0) + seconds
            counters_after = await _instance_counters(http, processes, group, projections)
            spread = {
                label: {k: counters_after[label][k] - v for k, v in before.items()}
                for label, before in counters_before.items()
            }
            stack = stack_cpu_between(stack_before, stack_cpu_seconds())
            memory = {name: proc_status(pid).get("VmHWM", 0) / 1024 for name, pid in pids.items()}
            lookups = await _lookups(http, membership_url) - lookups_before
            # The rush's mail, read before anything else is sent.
            maildir.scan()
            mail = _mail_checks(maildir, before_rush, the_plan, results, answered_at)
            # Each path alone: members only, then guests only, each on a fresh meeting, each
            # after the mail of what came before has gone (no backlog shares the machine).
            path_runs: dict[str, dict[str, Any]] = {}
            mails_before = maildir.scan()
            path_kinds = (("member", the_plan.members), ("guest", the_plan.guests))
            for kind, codes in path_kinds if paths else ():
                slug = f"bench-{token}-path-{kind}"
                body = {
                    **_meeting_body(slug, s.seats),
                    "guest_price_dkk": 1500,
                    "next_year_members_free": True,
                }
                (await http.post(f"{events_url}/meetings", json=body)).raise_for_status()
                before = await _lookups(http, membership_url)
                requests = path_requests(
                    kind, codes, f"meeting-{slug}", s.path_registrations, ports["events"]
                )
                alone = await asyncio.to_thread(
                    run_loadgen,
                    {"host": "127.0.0.1", "concurrency": s.concurrency, "requests": requests},
                )
                statuses: dict[str, int] = {}
                for row in alone["results"]:
                    statuses[str(row[1])] = statuses.get(str(row[1]), 0) + 1
                mails_before += statuses.get("201", 0) + statuses.get("202", 0)
                await _wait(maildir.at_least(mails_before), s.mail_timeout_s, "the path's mail")
                path_runs[kind] = {
                    "registrations": len(requests),
                    "per_s": len(requests) / alone["wall_s"],
                    "latency_ms": {
                        p: percentile([row[2] for row in alone["results"]], float(p)) * 1000
                        for p in ("50", "99")
                    },
                    "statuses": statuses,
                    "membership_lookups": await _lookups(http, membership_url) - before,
                }
        stages = await _mail_stages(conn, dsns["notifications"], meetings[0])
        lags = await _projection_lags(conn, projections, meetings[0])
        checks = await _check(
            conn,
            [
                [r[0], 0, r[1], r[2], r[4], r[5]]
                for i, r in enumerate(results)
                if the_plan.kinds[i] in ("member", "offer", "guest")
            ],
            [meetings[0]],
            _SeatsSpec(s.seats),
        )
    finally:
        if conn is not None:
            await conn.close()
        for process in processes.values():
            await asyncio.to_thread(process.stop)
        sink.terminate()
        await asyncio.to_thread(sink.wait, 15)
        for dsn in dsns.values():
            await drop_database(dsn)
        await delete_topics_with_prefix(KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP), prefix)
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in (*KINDS, "join"):
        rows = [r for i, r in enumerate(results) if the_plan.kinds[i] == kind]
        statuses: dict[str, int] = {}
        bases: dict[str, int] = {}
        for r in rows:
            statuses[str(r[1])] = statuses.get(str(r[1]), 0) + 1
            if r[6] is not None:
                bases[r[6]] = bases.get(r[6], 0) + 1
        by_kind[kind] = {
            "count": len(rows),
            "statuses": statuses,
            "bases": bases,
            "latency_ms": {
                p: percentile([r[2] for r in rows], float(p)) * 1000 for p in ("50", "99")
            },
        }
    decisions = [r for i, r in enumerate(results) if the_plan.kinds[i] != "join"]
    latencies = [r[2] for r in decisions]
    registrations = len(decisions)
    return {
        "part": "system",
        "quick": quick,
        "registrations": registrations,
        "joins": len(the_plan.offer),
        "concurrency": s.concurrency,
        "seats": s.seats,
        "municipalities": {
            "member": len(the_plan.members),
            "offer": len(the_plan.offer),
            "guest": len(the_plan.guests),
            "refused": len(the_plan.refused),
        },
        "wall_s": load["wall_s"],
        "decisions_per_s": registrations / load["wall_s"],
        "latency_ms": {
            p: percentile(latencies, float(p)) * 1000 for p in ("50", "95", "99", "100")
        },
        "by_kind": by_kind,
        "membership_lookups": lookups,
        "paths": path_runs,
        "instances": {
            "notifications": instances.notifications,
            "events_workers": instances.events_workers,
        },
        "projection_lag_ms": lags,
        "per_instance": spread,
        "mail": {
            **mail,
            "timed_out": mail_timed_out,
            "wait_after_load_s": mail_wait_s,
            "stages": stages,
        },
        "cpu_s": {
            **cpu,
            "postgres": stack["postgres"],
            "kafka": stack["kafka"],
            "load generator": load["cpu_s"],
        },
        "vmhwm_mb": memory,
        **checks,
    }


@dataclass(frozen=True)
class _SeatsSpec:
    """What :func:`bench.rush._check` needs to know of the main meeting."""

    seats_per_meeting: int
    meetings: int = 1


async def _mail_stages(
    events: asyncpg.Connection, notifications_dsn: str, meeting_id: str
) -> dict[str, dict[str, float]]:
    """Where a rush mail's time goes: from the registration event's commit until the
    notifications service has applied it (relay, Kafka, consumer: database clock, both
    sides), and from its delivery being queued until the SMTP server took it (the
    service's clock, both sides)."""
    recorded = {
        r["event_id"]: r["recorded_at"]
        for r in await events.fetch(
            "SELECT event_id, recorded_at FROM events WHERE stream_id = $1", meeting_id
        )
    }
    conn = await asyncpg.connect(notifications_dsn)
    try:
        applied = await conn.fetch(
            "SELECT event_id, processed_at FROM processed_events WHERE event_id = ANY($1)",
            list(recorded),
        )
        sent = await conn.fetch(
            """SELECT extract(epoch FROM finished_at - created_at) AS s FROM deliveries
               WHERE meeting_id = $1 AND status = 'sent'""",
            meeting_id,
        )
    finally:
        await conn.close()
    consumed = [(r["processed_at"] - recorded[r["event_id"]]).total_seconds() for r in applied]
    delivered = [float(r["s"]) for r in sent]

    def spread(values: list[float]) -> dict[str, float]:
        return {p: percentile(values, float(p)) for p in ("50", "99", "100")}

    return {"event_to_applied_s": spread(consumed), "queued_to_sent_s": spread(delivered)}


def _mail_checks(
    maildir: Maildir,
    before: set[str],
    the_plan: Plan,
    results: list[list[Any]],
    answered_at: float,
) -> dict[str, Any]:
    """Exactly one mail per answered registration, none twice; the mail's latency."""
    arrivals = maildir.by_recipient(before)
    latencies: list[float] = []
    missing = twice = 0
    for i, r in enumerate(results):
        email = the_plan.emails[i]
        if email is None or r[1] not in (201, 202):
            continue
        got = arrivals.get(email.lower(), [])
        if not got:
            missing += 1
            continue
        if len(got) > 1:
            twice += 1
        latencies.append(min(got) - r[3])
    unexpected = sum(
        1
        for i, r in enumerate(results)
        if the_plan.emails[i] is not None
        and r[1] not in (201, 202)
        and arrivals.get(the_plan.emails[i].lower())  # type: ignore[union-attr]
    )
    last = max((t for times in arrivals.values() for t in times), default=float("nan"))
    first_answer = min(
        (r[3] for i, r in enumerate(results) if the_plan.emails[i] and r[1] in (201, 202)),
        default=float("nan"),
    )
    mails = sum(len(t) for t in arrivals.values())
    return {
        "mails": mails,
        "per_s": mails / (last - first_answer) if last > first_answer else float("nan"),
        "missing": missing,
        "twice": twice,
        "unexpected": unexpected,
        "latency_s": {p: percentile(latencies, float(p)) for p in ("50", "95", "99", "100")},
        "last_mail_after_last_answer_s": last - answered_at,
    }


__all__ = ["run", "spec"]
