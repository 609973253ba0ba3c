"""Drive the running system like its users do, and read its databases like an auditor does.

Clients retry as a careful client should: a connection error or a 503 is retried with the
SAME ``Idempotency-Key`` until the service gives an answer, so a command that was committed
just before its process died is answered from the idempotency record, not done twice.
Waiting is always ``wait_until`` with a deadline.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from contracts import meetings as wire
from contracts.catalog import registry
from services.events.adapters.projections import queries, rebuild
from services.events.bootstrap import SOURCE as EVENTS_SOURCE
from services.events.entrypoints.subscribers import PROJECTIONS_CONSUMER
from services.kernel.db import create_pool, lock_key, with_database
from services.kernel.eventstore import EventStore
from services.kernel.privacy import PrivacySettings, Vault
from services.membership.adapters import roster
from services.membership.adapters.streams import SOURCE as MEMBERSHIP_SOURCE
from services.membership.domain.municipalities import MUNICIPALITIES
from services.notifications.adapters.feed import rebuild_feed
from tests.support.kafka import group_members
from tests.support.notifications_smtp_sink import SmtpSink
from tests.support.stack import ADMIN_DSN
from tests.support.system import VAULT, System
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]
STACK = ROOT / "deploy" / "local" / "stack.sh"

EAN = "5798000000001"
CONFIRMED_SUBJECT = "Tilmelding bekræftet: "
WAITLIST_SUBJECT = "Du er på ventelisten: "
WELCOME_SUBJECT = "Velkommen i "
CODES = tuple(m.code for m in MUNICIPALITIES)

RETRYABLE = (httpx.TransportError,)


# --- clients ----------------------------------------------------------------------------------


async def answer(
    http: httpx.AsyncClient,
    method: str,
    url: Callable[[], str],
    *,
    json: Any = None,
    key: str | None = None,
    timeout: float = 120.0,
    attempts: list[str] | None = None,
) -> httpx.Response:
    """Send until the service answers something other than 503; the same key every time.

    ``url`` is asked again for every attempt (another instance may be up). Each connection
    error or 503 is noted in ``attempts``, so a test can show that retries happened.
    """
    headers = {"Idempotency-Key": key} if key else {}

    async def attempt() -> httpx.Response | None:
        try:
            response = await http.request(method, url(), json=json, headers=headers)
        except RETRYABLE as exc:
            if attempts is not None:
                attempts.append(type(exc).__name__)
            return None
        if response.status_code == 503:
            if attempts is not None:
                attempts.append("503")
            return None
        return response

    result: httpx.Response = await wait_until(
        attempt, timeout=timeout, interval=0.1, what=f"an answer to {method} {url()}"
    )
    return result


@dataclass
class Rush:
    """``clients`` clients registering ``people`` participants (numbered from ``offset``)
    at once, over ``codes``; answers by Idempotency-Key."""

    meeting_id: str
    people: int
    clients: int
    urls: Callable[[int], str]
    codes: Sequence[str] = ()
    offset: int = 0
    answers: dict[str, httpx.Response] = field(default_factory=dict)
    retried: list[str] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return len(self.answers)

    def email(self, n: int) -> str:
        return f"deltager{n}@kommune.dk"

    def request(self, n: int) -> dict[str, str]:
        return {
            "name": f"Deltager {n}",
            "email": self.email(n),
            "job_title": "Konsulent",
            "municipality_code": self.codes[n % len(self.codes)],
        }

    async def run(self, http: httpx.AsyncClient) -> None:
        """Register all ``people``, ``clients`` at a time."""
        await self.run_until(http, asyncio.Event())

    async def run_until(self, http: httpx.AsyncClient, stop: asyncio.Event) -> None:
        """Register one participant after another until ``stop`` is set (or ``people`` are
        done): traffic that spans an outage, whatever the outage's length."""
        numbers = iter(range(self.offset, self.offset + self.people))

        async def client() -> None:
            for n in numbers:
                if stop.is_set():
                    return
                key = f"rush-{self.meeting_id}-{n}"
                self.answers[key] = await answer(
                    http,
                    "POST",
                    lambda n=n: f"{self.urls(n)}/meetings/{self.meeting_id}/registrations",
                    json=self.request(n),
                    key=key,
                    attempts=self.retried,
                )

        await asyncio.gather(*(client() for _ in range(self.clients)))

    def statuses(self) -> Counter[int]:
        return Counter(r.status_code for r in self.answers.values())

    def registration_ids(self) -> set[str]:
        return {r.json()["registration_id"] for r in self.answers.values()}


async def join_members(
    http: httpx.AsyncClient, url: Callable[[int], str], codes: Sequence[str], year: int = 2021
) -> dict[str, str]:
    """Join the municipalities to KNUB for ``year``; code -> membership id."""

    async def join(i: int, code: str) -> tuple[str, str]:
        response = await answer(
            http,
            "POST",
            lambda: f"{url(i)}/networks/knub/memberships",
            json={
                "municipality_code": code,
                "year": year,
                "contact_name": f"Kontakt {code}",
                "contact_email": contact_email(code),
                "ean": EAN,
            },
            key=f"join-{code}-{year}",
        )
        assert response.status_code in (200, 201), response.text
        return code, response.json()["membership_id"]

    return dict(await asyncio.gather(*(join(i, c) for i, c in enumerate(codes))))


async def answered(rush: Rush, at_least: int, timeout: float = 60) -> None:
    """Wait until ``rush`` has had ``at_least`` answers."""

    async def probe() -> bool:
        return rush.answered >= at_least

    await wait_until(probe, timeout=timeout, what=f"{at_least} answers")


async def members_and_meeting(
    http: httpx.AsyncClient,
    system: System,
    events_db: asyncpg.Pool,
    codes: Sequence[str],
    slug: str,
    seats: int,
) -> tuple[dict[str, str], str]:
    """``codes`` joined for 2021 and known to the events service's view, then a meeting:
    (code -> membership id, meeting id)."""
    members = await join_members(http, lambda _: system.url("membership"), codes)

    async def view_knows_members() -> bool:
        return await members_known_to_events(events_db, codes, 2021)

    await wait_until(view_knows_members, timeout=60, what="events' view of the members")
    return members, await schedule_meeting(http, system.url("events"), slug, seats)


def contact_email(code: str) -> str:
    return f"kontakt{code}@kommune.dk"


async def schedule_meeting(http: httpx.AsyncClient, url: str, slug: str, seats: int) -> str:
    """A members-only KNUB meeting on 8 December 2021 (the clock says 19 November 2021)."""
    response = await answer(
        http,
        "POST",
        lambda: f"{url}/meetings",
        json={
            "slug": slug,
            "network_slug": "knub",
            "year": 2021,
            "title": f"Netværksmøde {slug}",
            "starts_at": "2021-12-08T09:30:00",
            "ends_at": "2021-12-08T15:30:00",
            "venue_name": "KL-huset",
            "venue_address": "Weidekampsgade 10, 2300 København S",
            "seats": seats,
            "registration_deadline": "2021-12-03T12:00:00",
        },
        key=f"schedule-{slug}",
    )
    assert response.status_code in (200, 201), response.text
    meeting_id: str = response.json()["meeting_id"]
    return meeting_id


# --- the databases ----------------------------------------------------------------------------


@asynccontextmanager
async def pool_of(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A small pool on a service's database (JSONB codecs as the services use them)."""
    pool = await create_pool(dsn, [], min_size=1, max_size=3)
    try:
        yield pool
    finally:
        await pool.close()


async def outbox_drained(pool: asyncpg.Pool) -> bool:
    left: int = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return left == 0


async def members_known_to_events(pool: asyncpg.Pool, codes: Sequence[str], year: int) -> bool:
    known: int = await pool.fetchval(
        """SELECT count(*) FROM membership_view
           WHERE network_slug = 'knub' AND year = $1 AND status = 'active'
             AND municipality_code = ANY($2::text[])""",
        year,
        list(codes),
    )
    return known == len(codes)


async def active_relays(pool: asyncpg.Pool, service: str) -> int:
    """Sessions holding the outbox relay's advisory lock in this database."""
    key = lock_key(f"{service}-outbox-relay")
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    held: int = await pool.fetchval(
        """SELECT count(*) FROM pg_locks
           WHERE locktype = 'advisory' AND granted AND database =
                 (SELECT oid FROM pg_database WHERE datname = current_database())
             AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1""",
        unsigned >> 32,
        unsigned & 0xFFFFFFFF,
    )
    return held


# --- projections against the event store -------------------------------------------------


@dataclass(frozen=True)
class Seating:
    """Who holds a seat and who waits, computed from the meeting's events alone."""

    seats: int
    status: dict[str, str]
    waiting: tuple[str, ...]

    @property
    def taken(self) -> int:
        return sum(1 for s in self.status.values() if s == "confirmed")


async def seating_from_store(pool: asyncpg.Pool, meeting_id: str) -> Seating:
    """A pure recomputation of seats and waiting list from the event store."""
    rows = await pool.fetch(
        "SELECT event_type, data FROM events WHERE stream_id = $1 ORDER BY version", meeting_id
    )
    seats = 0
    status: dict[str, str] = {}
    waiting: list[str] = []
    for row in rows:
        event = registry.parse(row["event_type"], row["data"])
        match event:
            case wire.MeetingScheduled() | wire.MeetingSeatsChanged():
                seats = event.seats
            case wire.RegistrationConfirmed():
                status[event.registration_id] = "confirmed"
            case wire.RegistrationWaitlisted():
                status[event.registration_id] = "waitlisted"
                waiting.append(event.registration_id)
            case wire.RegistrationPromoted():
                status[event.registration_id] = "confirmed"
                waiting.remove(event.registration_id)
            case wire.RegistrationCancelled():
                if event.registration_id in waiting:
                    waiting.remove(event.registration_id)
                status[event.registration_id] = "cancelled"
    return Seating(seats, status, tuple(waiting))


async def events_projection(pool: asyncpg.Pool, meeting_id: str) -> dict[str, Any]:
    """The live read models of one meeting, without bookkeeping columns."""
    availability = await queries.availability(pool, meeting_id)
    assert availability is not None
    availability.pop("changes")
    return {
        "availability": availability,
        "participants": await queries.participants(pool, meeting_id),
        "meeting": dict(
            await pool.fetchrow("SELECT * FROM meeting_view WHERE meeting_id = $1", meeting_id)
        ),
    }


def assert_projection_matches_store(projection: dict[str, Any], seating: Seating) -> None:
    availability = projection["availability"]
    participants = projection["participants"]
    assert availability["seats"] == seating.seats
    assert availability["taken"] == seating.taken
    assert availability["waiting"] == len(seating.waiting)
    assert {p["registration_id"]: p["status"] for p in participants} == seating.status
    ranked = sorted(
        (p for p in participants if p["status"] == "waitlisted"),
        key=lambda p: p["waiting_position"],
    )
    assert tuple(p["registration_id"] for p in ranked) == seating.waiting
    assert [p["waiting_position"] for p in ranked] == list(range(1, len(ranked) + 1))


@asynccontextmanager
async def vault_beside(pool: asyncpg.Pool) -> AsyncIterator[Vault]:
    """The key vault of the system whose service database ``pool`` is (t_<unique>_<service>)."""
    name: str = await pool.fetchval("SELECT current_database()")
    dsn = with_database(ADMIN_DSN, name.rsplit("_", 1)[0] + "_" + VAULT)
    vault = Vault(PrivacySettings(database_url=dsn))
    try:
        yield vault
    finally:
        await vault.close()


async def rebuild_events(pool: asyncpg.Pool, prefix: str) -> int:
    async with vault_beside(pool) as vault:
        return await rebuild.rebuild(
            pool, EventStore(EVENTS_SOURCE), prefix + PROJECTIONS_CONSUMER, vault
        )


async def assert_events_projection_equals_rebuild(
    pool: asyncpg.Pool, prefix: str, meeting_id: str
) -> dict[str, Any]:
    """Live read models == the store's recomputation == a rebuild from the event store."""
    live = await events_projection(pool, meeting_id)
    assert_projection_matches_store(live, await seating_from_store(pool, meeting_id))
    await rebuild_events(pool, prefix)
    rebuilt = await events_projection(pool, meeting_id)
    assert rebuilt == live
    return live


async def roster_rows(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM membership_roster ORDER BY membership_id")
    return [dict(r) for r in rows]


async def assert_roster_equals_rebuild(
    pool: asyncpg.Pool, memberships: Iterable[str]
) -> list[dict[str, Any]]:
    """Once the roster shows exactly ``memberships``, a rebuild gives the same rows.

    The roster is a projection through Kafka: an outbox drained means published, not yet
    applied (memberships made while Kafka was away arrive last)."""
    expected = set(memberships)

    async def caught_up() -> list[dict[str, Any]] | None:
        rows = await roster_rows(pool)
        return rows if {r["membership_id"] for r in rows} == expected else None

    live = await wait_until(caught_up, timeout=90, what="every membership in the roster")
    await roster.rebuild(pool, EventStore(MEMBERSHIP_SOURCE))
    assert await roster_rows(pool) == live
    return live


async def feed_rows(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM notification_feed ORDER BY notification_id")
    return [dict(r) for r in rows]


async def assert_feed_equals_rebuild(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    live = await feed_rows(pool)
    async with vault_beside(pool) as vault:
        await rebuild_feed(pool, vault)
    assert await feed_rows(pool) == live
    return live


# --- mail -------------------------------------------------------------------------------------


def mails_with(smtp: SmtpSink, subject_start: str) -> Counter[str]:
    """Recipient -> number of mails received whose subject starts so."""
    counts: Counter[str] = Counter()
    for mail in smtp.messages:
        if mail.subject.startswith(subject_start):
            counts.update(mail.rcpt_tos)
    return counts


async def deliveries_settled(pool: asyncpg.Pool, expected: int) -> bool:
    """All ``expected`` deliveries are queued and none is still waiting to be sent."""
    row = await pool.fetchrow(
        """SELECT count(*) AS total, count(*) FILTER (WHERE status = 'sent') AS sent
           FROM deliveries"""
    )
    assert row is not None
    total, sent = row["total"], row["sent"]
    assert total <= expected, f"{total} deliveries queued, only {expected} expected"
    return bool(total == expected and sent == expected)


def assert_mail_once(
    smtp: SmtpSink, confirmed: set[str], waitlisted: set[str], contacts: set[str]
) -> None:
    """Each seated participant got one confirmation, each waiting one notice, each contact
    one welcome; nobody got anything twice or anything not theirs."""
    assert mails_with(smtp, CONFIRMED_SUBJECT) == Counter(confirmed)
    assert mails_with(smtp, WAITLIST_SUBJECT) == Counter(waitlisted)
    assert mails_with(smtp, WELCOME_SUBJECT) == Counter(contacts)
    message_ids = [m.message["Message-ID"] for m in smtp.messages]
    assert len(message_ids) == len(set(message_ids))


# --- the local stack ------------------------------------------------------------------------


async def stack(action: str, component: str) -> None:
    """``deploy/local/stack.sh <action> <component>``; fails the test if the script fails."""
    process = await asyncio.to_thread(
        subprocess.run,
        [str(STACK), action, component],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert process.returncode == 0, f"stack.sh {action} {component}:\n{process.stderr}"


async def ready(http: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await http.get(f"{url}/readyz")).status_code == 200
    except httpx.TransportError:
        return False


async def all_ready(http: httpx.AsyncClient, system: System) -> bool:
    checks = [
        ready(http, process.url) for processes in system.instances.values() for process in processes
    ]
    return all(await asyncio.gather(*checks))


def running_pids(system: System) -> list[int]:
    """The process ids of every instance, all of which must be alive."""
    pids = []
    for processes in system.instances.values():
        for process in processes:
            assert process.process is not None
            assert process.process.poll() is None, f"{process.service} died"
            pids.append(process.process.pid)
    return pids


async def group_assignments(group: str) -> list[dict[str, list[int]]]:
    """Per member of a Kafka consumer group: topic -> the partitions it owns (nothing yet
    while the group rebalances)."""
    members: list[dict[str, list[int]]] = []
    for member in await group_members(group):
        if not member[-1]:
            members.append({})
            continue
        assignment = ConsumerProtocolMemberAssignment.decode(member[-1])
        members.append({topic: sorted(parts) for topic, parts in assignment.assignment})
    return members
