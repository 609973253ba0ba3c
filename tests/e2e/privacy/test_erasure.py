"""Erasure end to end: a registered person is forgotten by every part of the system.

The three services run as real processes with one shared key vault. Four staff register
for a meeting with two seats (two seated, two waiting) and get their mails. One of them,
Bodil, is also the contact person of her municipality's membership, joined with an
Idempotency-Key, and her mail server refuses her mail in Postfix's words (naming her
address). An operator erases her. Then her name and e-mail are nowhere: not in any table
of any service's database (every text, JSON and byte column is searched: idempotency
records and bounced deliveries included), not in the vault, not in any API answer (a
replay of the join included), not in any record of any topic (read from the beginning by
a consumer of our own, raw bytes), not in a projection rebuilt from the event store. The
seat numbers, the waiting list and the other persons' data are as they were.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

from services.events.adapters.projections import queries, rebuild
from services.events.bootstrap import SOURCE as EVENTS_SOURCE
from services.events.entrypoints.subscribers import PROJECTIONS_CONSUMER
from services.kernel.db import init_connection
from services.kernel.eventstore import EventStore
from services.kernel.privacy import ERASED, PrivacySettings, Vault
from tests.support import auth
from tests.support.kafka import read_topic
from tests.support.privacy_scan import found_in, scan_database
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.system import SERVICES, VAULT, System
from tests.support.waiting import wait_until

MEETING = {
    "slug": "knub-2021-3",
    "network_slug": "knub",
    "year": 2021,
    "title": "3. netværksmøde 2021",
    "description": "Anvisning og udlejning",
    "starts_at": "2021-12-08T09:30:00",
    "ends_at": "2021-12-08T15:30:00",
    "venue_name": "KL-huset",
    "venue_address": "Weidekampsgade 10, 2300 København S",
    "seats": 2,
    "registration_deadline": "2021-12-03T12:00:00",
}


def staff(name: str, local: str, unique: str, code: str, note: str) -> dict[str, Any]:
    return {
        "name": name,
        "email": f"{local}.{unique}@kommune{code}.dk",
        "job_title": "Boligsocial konsulent",
        "municipality_code": code,
        "note": note,
    }


def secrets_of(person: dict[str, Any]) -> list[str]:
    """What must not be found of a person, lower case: name, e-mail, its local part, note."""
    email = person["email"].lower()
    return [person["name"].lower(), email, email.split("@")[0], person["note"].lower()]


async def read_all_topics(prefix: str) -> list[bytes]:
    """Every record (key, headers, value) of every topic with the prefix, from the start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA_BOOTSTRAP)
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith(prefix))
    finally:
        await consumer.stop()
    assert len(topics) >= 4, topics
    raw: list[bytes] = []
    for topic in topics:
        for r in await read_topic(topic, expect=0):
            headers = b"".join(k.encode() + v for k, v in r.headers)
            raw.append((r.key or b"") + b"|" + headers + b"|" + (r.value or b""))
    return raw


async def fetch_value(dsn: str, query: str) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def erase_from_the_command_line(events_url: str, email: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.operator", "erase", "--email", "-"],
        input=email + "\n",
        env={
            **os.environ,
            "EVENTS_URL": events_url,
            "KL_OPERATOR_TOKEN": auth.token("operator"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_an_erased_person_is_nowhere_and_the_seats_are_unchanged(
    system: System, unique: str
) -> None:
    await system.start("membership")
    await system.start("events")
    await system.start("notifications")
    membership, events = system.url("membership"), system.url("events")
    notifications = system.url("notifications")

    alma = staff("Alma Brøndum-Sejr", "alma.broendum", unique, "101", "Almas glutenallergi")
    bodil = staff("Bodil Glemmesen-Krogh", "bodil.glemmesen", unique, "751", "Bodils kørestol")
    carl = staff("Carl Venteby-Holst", "carl.venteby", unique, "101", "Carls tolk")
    dorte = staff("Dorte Ventesen-Lund", "dorte.ventesen", unique, "751", "Dortes diæt")
    everyone = [alma, bodil, carl, dorte]

    # Her mail server refuses her (Postfix: "550 5.1.1 <her address>: Recipient address
    # rejected"): the answer must not carry her address into events, topics or tables.
    system.smtp.reject.add(bodil["email"].lower())
    join_key = {"Idempotency-Key": f"join-751-{unique}"}

    async with httpx.AsyncClient(timeout=30, headers=auth.OPERATOR) as http:
        for code in ("101", "751"):
            contact = (
                (bodil["name"], bodil["email"])
                if code == "751"
                else ("Kontakt Person", f"kontakt.{unique}@kommune{code}.dk")
            )
            r = await http.post(
                f"{membership}/networks/knub/memberships",
                json={
                    "municipality_code": code,
                    "year": 2021,
                    "contact_name": contact[0],
                    "contact_email": contact[1],
                    "ean": "5798000000001",
                },
                headers=join_key if code == "751" else None,
            )
            assert r.status_code == 201, r.text
            join_751 = r.json() if code == "751" else None
        r = await http.post(f"{events}/meetings", json=MEETING)
        assert r.status_code == 201, r.text
        meeting = r.json()["meeting_id"]
        registrations = f"{events}/meetings/{meeting}/registrations"
        ids = {}
        for person, status in zip(everyone, (201, 201, 202, 202), strict=True):
            r = await http.post(registrations, json=person)
            assert r.status_code == status, r.text
            ids[person["name"]] = r.json()["registration_id"]

        async def mailed_or_bounced() -> bool:
            bounced = await fetch_value(
                system.dsn("notifications"),
                "SELECT count(*) FROM deliveries WHERE status = 'failed' AND permanent",
            )
            delivered = all(system.smtp.to(p["email"]) for p in (alma, carl, dorte))
            return delivered and bounced == 2  # her confirmation and her welcome as contact

        await wait_until(mailed_or_bounced, timeout=120, what="every first mail, hers refused")
        assert not system.smtp.to(bodil["email"])

        async def listed() -> list[dict[str, Any]] | None:
            rows: list[dict[str, Any]] = (await http.get(registrations)).json()
            return rows if len(rows) == 4 else None

        before = await wait_until(listed, timeout=60, what="the participant list")
        availability = (await http.get(f"{events}/meetings/{meeting}/availability")).json()

        # The operator's command line, the e-mail on its standard input.
        r = await asyncio.to_thread(erase_from_the_command_line, events, bodil["email"])
        assert r.returncode == 0, r.stdout + r.stderr
        erased = json.loads(r.stdout)
        assert erased["published"] is True
        assert bodil["email"].lower() not in (r.stdout + r.stderr).lower()
        again = await http.post(
            f"{events}/persons/erasures", json={"person_id": erased["person_id"]}
        )
        assert (again.status_code, again.json()["published"]) == (202, False), "idempotent"
        unknown = await http.post(f"{events}/persons/erasures", json={"email": bodil["email"]})
        assert unknown.status_code == 404, "the e-mail no longer leads to anyone"
        assert bodil["email"].lower() not in unknown.text.lower()
        refused = await asyncio.to_thread(erase_from_the_command_line, events, bodil["email"])
        assert refused.returncode == 1
        assert "HTTP 404" in refused.stdout
        assert bodil["email"].lower() not in (refused.stdout + refused.stderr).lower()

        async def scrubbed() -> bool:
            rows = (await http.get(registrations)).json()
            row = next(r for r in rows if r["registration_id"] == ids[bodil["name"]])
            conn = await asyncpg.connect(system.dsn("notifications"))
            try:
                left = await conn.fetchval(
                    "SELECT count(*) FROM registrations WHERE name <> $1 AND registration_id = $2",
                    ERASED,
                    ids[bodil["name"]],
                )
            finally:
                await conn.close()
            return bool(row["name"] == ERASED and left == 0)

        await wait_until(scrubbed, timeout=60, what="the erasure applied by every service")

        # Seats, statuses and the waiting list are exactly as before; the row stays.
        after = (await http.get(registrations)).json()
        assert (await http.get(f"{events}/meetings/{meeting}/availability")).json() == (
            availability
        )

        def shape(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
            keys = ("registration_id", "status", "waiting_position", "basis", "price_dkk")
            return sorted(tuple(r[k] for k in keys) for r in rows)

        assert shape(after) == shape(before)
        bodil_row = next(r for r in after if r["registration_id"] == ids[bodil["name"]])
        assert (bodil_row["name"], bodil_row["email"], bodil_row["erased"]) == (ERASED, None, True)
        assert bodil_row["status"] == "confirmed", "the erased person keeps the seat"
        others = {r["name"]: r for r in after if r["registration_id"] != ids[bodil["name"]]}
        assert set(others) == {alma["name"], carl["name"], dorte["name"]}
        assert others[carl["name"]]["email"] == carl["email"], "others' data is intact"

        # A replay of the join with its key reads the membership again: the contact erased.
        replay = await http.post(
            f"{membership}/networks/knub/memberships",
            json={
                "municipality_code": "751",
                "year": 2021,
                "contact_name": bodil["name"],
                "contact_email": bodil["email"],
                "ean": "5798000000001",
            },
            headers=join_key,
        )
        assert (replay.status_code, replay.headers["idempotent-replayed"]) == (201, "true")
        assert join_751 is not None
        assert replay.json()["membership_id"] == join_751["membership_id"]
        assert replay.json()["contact_name"] == ERASED
        assert found_in(replay.text, secrets_of(bodil)) == []

        # No API answer shows her.
        answers = [
            await http.get(registrations),
            await http.get(f"{events}/municipalities/751/registrations"),
            await http.get(f"{events}/meetings/{meeting}"),
            await http.get(f"{notifications}/recipients/{bodil['email']}/notifications"),
            await http.get(f"{notifications}/municipalities/751/notifications"),
            await http.get(f"{notifications}/deliveries"),
            await http.get(f"{notifications}/deliveries?status=failed"),
            await http.get(f"{membership}/municipalities/751/memberships"),
            await http.get(f"{membership}/networks/knub/roster/2021"),
        ]
        for answer in answers:
            assert answer.status_code == 200, (answer.url, answer.text)
            assert found_in(answer.text, secrets_of(bodil)) == [], answer.url
        assert (
            await http.get(f"{notifications}/recipients/{bodil['email']}/notifications")
        ).json()["total"] == 0
        assert found_in(answers[0].text, secrets_of(alma)) != [], "the search can find"

        # A new registration after the erasure works as ever.
        erik = staff("Erik Efterkommer", "erik.efterkommer", unique, "101", "Eriks note")
        r = await http.post(registrations, json=erik)
        assert r.status_code == 202, r.text
        ids[erik["name"]] = r.json()["registration_id"]

    # Not in any database (events, notifications, membership, the vault).
    secrets = secrets_of(bodil)
    for database in (*SERVICES, VAULT):
        assert await scan_database(system.dsn(database), secrets) == [], database
    assert await scan_database(system.dsn("events"), secrets_of(alma)) != [], "the scan can find"

    vault = Vault(PrivacySettings(database_url=system.dsn(VAULT)))
    try:
        assert await vault.find(bodil["email"]) is None
        assert await vault.key(erased["person_id"]) is None
        assert await vault.erased(erased["person_id"])

        # A rebuild from the event store shows her erased too, and the seats the same.
        pool = await asyncpg.create_pool(
            system.dsn("events"), min_size=1, max_size=2, init=init_connection
        )
        try:
            await rebuild.rebuild(
                pool, EventStore(EVENTS_SOURCE), system.prefix + PROJECTIONS_CONSUMER, vault
            )
            rebuilt = await queries.participants(pool, meeting)
        finally:
            await pool.close()
    finally:
        await vault.close()
    assert next(r for r in rebuilt if r["registration_id"] == ids[bodil["name"]])["name"] == ERASED
    assert found_in(str(rebuilt), secrets) == []
    assert shape([r for r in rebuilt if r["registration_id"] != ids[erik["name"]]]) == shape(before)

    # Not in any record of any topic, read from the beginning by a consumer of our own.
    records = await read_all_topics(system.prefix)
    assert any(b"dk.kl.privacy.person_erased" in r for r in records)
    assert any(b"dk.kl.notifications.failed.v2" in r and b"5.1.1" in r for r in records)
    assert any(b"dk.kl.events.registration_confirmed.v2" in r for r in records)
    leaks = [s for r in records for s in found_in(r.decode("utf-8", "replace"), secrets)]
    assert leaks == []
