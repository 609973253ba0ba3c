"""The seed's story as demo data, loaded through the services' own APIs.

As of 19 November 2021 (the day of KL's announcement): KNUB exists (the membership service
seeds it), four municipalities are members for 2021, Aalborg joins for 2022 and so may come
free to the 8 December 2021 meeting under the offer, and a few staff have registered.
The people are invented; the addresses use the reserved example.dk domain of no one.

Loading is idempotent in every state the demo can be in. Each piece is looked up first and
made only if it does not exist: a membership by its public status, a registration by the
meeting's participant list. What exists is left exactly as it is, however it was changed
since (a cancelled membership or registration, other seats), and the report says so.
Registrations are sent with a fixed ``Idempotency-Key`` each, so one made by an earlier run
and not yet in the participant list (or whose person was erased since) is answered from the
service's record instead of being made twice. A step the services refuse is reported, never
raised: the system runs either way. ``reset`` is the explicit way back to the seed's state.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import httpx

from services.events.adapters.demo import DEMO_MEETING_ID, DEMO_SEATS
from services.kernel.db import database_name, drop_database
from services.kernel.kafka import KafkaSettings
from services.operator.demo_lookup import look_up_or_make
from services.operator.demo_outreach import load_area_list
from services.operator.kafka_tools import delete_topics_with_prefix, topics_with_prefix

DEMO_AS_OF = "2021-11-19T09:00:00+01:00"
NETWORK = "knub"
TOPICS = "kl."
"""Every topic of the system begins with this (after the topic prefix)."""

__all__ = ["DEMO_AS_OF", "DEMO_MEETING_ID", "DemoReport", "reset", "seed"]


@dataclass(frozen=True)
class DemoJoin:
    code: str
    year: int
    contact_name: str
    contact_email: str
    ean: str


@dataclass(frozen=True)
class DemoRegistration:
    name: str
    email: str
    job_title: str
    code: str
    note: str | None = None

    @property
    def idempotency_key(self) -> str:
        """The same key in every run, and no e-mail in it."""
        digest = hashlib.sha256(self.email.encode()).hexdigest()[:16]
        return f"demo-{DEMO_MEETING_ID}-registration-{digest}"


JOINS = (
    DemoJoin("101", 2021, "Mette Holm", "mette.holm@kk.example.dk", "5798000101005"),
    DemoJoin("751", 2021, "Jens Kragh", "jens.kragh@aarhus.example.dk", "5798000751002"),
    DemoJoin("461", 2021, "Sara Lund", "sara.lund@odense.example.dk", "5798000461000"),
    DemoJoin("169", 2021, "Ali Demir", "ali.demir@htk.example.dk", "5798000169005"),
    DemoJoin("851", 2022, "Birgitte Moe", "birgitte.moe@aalborg.example.dk", "5798000851009"),
)

REGISTRATIONS = (
    DemoRegistration(
        "Anne Winther",
        "anne.winther@aarhus.example.dk",
        "Boligsocial koordinator",
        "751",
        "Vegetar",
    ),
    DemoRegistration("Peter Skov", "peter.skov@kk.example.dk", "Områdeleder", "101"),
    DemoRegistration("Lone Bach", "lone.bach@odense.example.dk", "Specialkonsulent", "461"),
    DemoRegistration(
        "Karim Nassar", "karim.nassar@aalborg.example.dk", "Projektleder, boliganvisning", "851"
    ),
)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@dataclass
class DemoReport:
    """What loading the demo found and did, in lines for the operator (no personal data)."""

    made: list[str] = field(default_factory=list)
    """One line per piece made now, e.g. "membership 101 for 2021: joined"."""
    memberships: int = 0
    meetings: int = 0
    registrations: int = 0
    """Pieces of the demo that exist after this run (made now or before)."""
    made_memberships: int = 0
    made_meetings: int = 0
    made_registrations: int = 0
    changes: list[str] = field(default_factory=list)
    """How the demo differs from the seed's state, e.g. "membership 461 for 2021 cancelled"."""
    problems: list[str] = field(default_factory=list)
    """Steps a service refused or did not answer; the system runs regardless."""
    notes: list[str] = field(default_factory=list)
    """What else the operator should know (the demo's area list is partial)."""

    @property
    def made_anything(self) -> bool:
        return bool(self.made_memberships or self.made_meetings or self.made_registrations)

    def summary(self) -> str:
        """One line: "demo present: 5 memberships, 1 meeting, 4 registrations; ..."."""
        counts = ", ".join(
            [
                _plural(self.memberships, "membership", "memberships"),
                _plural(self.meetings, "meeting", "meetings"),
                _plural(self.registrations, "registration", "registrations"),
            ]
        )
        if not self.made_anything:
            line = f"demo present: {counts}; left as it is"
        elif self.made_memberships + self.made_meetings + self.made_registrations == (
            self.memberships + self.meetings + self.registrations
        ):
            line = f"demo loaded: {counts}"
        else:
            line = f"demo completed ({len(self.made)} piece(s) were missing): {counts}"
        if self.changes:
            line += "; changed since the seed: " + ", ".join(self.changes)
        return line

    def lines(self) -> list[str]:
        problems = [f"not loaded: {p}" for p in self.problems]
        return [*self.made, self.summary(), *self.notes, *problems]


def _problem(response: httpx.Response) -> str:
    """The service's answer in a few words: status and problem type or title."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        what = body.get("type") or body.get("title") or ""
        return f"HTTP {response.status_code} {str(what).rsplit(':', 1)[-1]}".strip()
    return f"HTTP {response.status_code}"


async def _memberships(client: httpx.AsyncClient, membership_url: str, report: DemoReport) -> None:
    for join in JOINS:
        what = f"membership {join.code} for {join.year}"
        found, answer = await look_up_or_make(
            client,
            f"{membership_url}/networks/{NETWORK}/memberships/{join.year}/{join.code}",
            partial(
                client.post,
                f"{membership_url}/networks/{NETWORK}/memberships",
                json={
                    "municipality_code": join.code,
                    "year": join.year,
                    "contact_name": join.contact_name,
                    "contact_email": join.contact_email,
                    "ean": join.ean,
                },
            ),
        )
        if found == "refused":
            report.problems.append(f"{what}: {_problem(answer)}")
            continue
        report.memberships += 1
        if found == "made":
            report.made_memberships += answer.status_code == 201
            report.made.append(f"{what}: joined")
        elif (state := answer.json().get("status")) != "active":
            report.changes.append(f"{what} {state}")


async def _meeting(
    client: httpx.AsyncClient, events_url: str, report: DemoReport, created: bool
) -> bool:
    """Look at the demo meeting (scheduled before the services started); False if absent."""
    response = await client.get(f"{events_url}/meetings/{DEMO_MEETING_ID}")
    if response.status_code != 200:
        report.problems.append(f"the demo meeting: {_problem(response)}")
        return False
    report.meetings += 1
    if created:
        report.made_meetings += 1
        report.made.append(f"meeting {DEMO_MEETING_ID}: scheduled")
    meeting = response.json()
    if meeting.get("cancelled"):
        report.changes.append("the meeting cancelled")
    if meeting.get("seats") != DEMO_SEATS:
        report.changes.append(f"seats {DEMO_SEATS} -> {meeting.get('seats')}")
    return True


async def _registrations(client: httpx.AsyncClient, events_url: str, report: DemoReport) -> None:
    url = f"{events_url}/meetings/{DEMO_MEETING_ID}/registrations"
    listing = await client.get(url)
    if listing.status_code != 200:
        report.problems.append(f"the participant list: {_problem(listing)}")
        return
    by_email = {str(row.get("email") or "").lower(): row for row in listing.json()}
    for person in REGISTRATIONS:
        what = f"registration from {person.code}"
        row = by_email.get(person.email.lower())
        if row is not None:
            report.registrations += 1
            if row.get("status") == "cancelled":
                report.changes.append(f"{what} cancelled")
            continue
        made = await client.post(
            url,
            json={
                "name": person.name,
                "email": person.email,
                "job_title": person.job_title,
                "municipality_code": person.code,
                "note": person.note,
            },
            headers={"Idempotency-Key": person.idempotency_key},
        )
        if made.status_code not in (200, 201, 202):
            report.problems.append(f"{what}: {_problem(made)}")
            continue
        report.registrations += 1
        if made.headers.get("Idempotent-Replayed") == "true":
            continue  # made by an earlier run: not (yet, or no longer) in the list
        report.made_registrations += 1
        report.made.append(f"{what}: {made.json().get('status', made.status_code)}")


async def seed(
    membership_url: str,
    events_url: str,
    token: str,
    *,
    meeting_created: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> DemoReport:
    """Load what is missing of the demo as an operator (``token``); report the state.

    The demo meeting itself is scheduled beforehand, in the events database
    (``services.events.operations.seed_database``); ``meeting_created`` says whether that
    made it now. ``transport``: the services in-process (tests).
    """
    report = DemoReport()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10, headers=headers, transport=transport) as client:
        try:
            await _memberships(client, membership_url, report)
            await load_area_list(client, membership_url, report)
            if await _meeting(client, events_url, report, meeting_created):
                await _registrations(client, events_url, report)
        except httpx.HTTPError as exc:
            report.problems.append(f"a service did not answer: {type(exc).__name__}")
    return report


@dataclass(frozen=True)
class ResetPlan:
    """What ``--reset-demo`` deletes: the services' databases and the system's topics."""

    databases: Sequence[str]
    """DSNs of the databases to drop."""
    kafka: KafkaSettings
    topic_prefix: str

    def describe(self) -> str:
        names = ", ".join(dict.fromkeys(database_name(dsn) for dsn in self.databases))
        server = self.databases[0].rsplit("@", 1)[-1].rsplit("/", 1)[0] if self.databases else ""
        return (
            f"--reset-demo: deleting the databases {names} (on {server}) and every Kafka topic "
            f"'{self.topic_prefix}{TOPICS}*' (on {self.kafka.bootstrap_servers}). "
            "Everything in them is lost, also what was changed since the demo was loaded; "
            "the demo is then loaded fresh."
        )


async def reset(plan: ResetPlan, *, timeout: float = 60.0) -> None:
    """Drop the databases and delete the topics; return when Kafka no longer lists them
    (a topic being deleted cannot be made again yet)."""
    for dsn in dict.fromkeys(plan.databases):
        await drop_database(dsn)
    prefix = plan.topic_prefix + TOPICS
    await delete_topics_with_prefix(plan.kafka, prefix)
    async with asyncio.timeout(timeout):
        while True:
            if not await topics_with_prefix(plan.kafka, prefix):
                return
            await asyncio.sleep(0.2)  # wait-ok: Kafka deletes topics in the background
