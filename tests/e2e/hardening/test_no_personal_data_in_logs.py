"""No name, e-mail address or note of a person ever reaches the services' logs.

The three services run as real processes. A realistic story goes through them over HTTP:
two municipalities join with contact persons, a contact person changes, staff register with
names, e-mails and notes, one is refused, one registers twice, one sends a malformed
request, a cancellation promotes the waiting participant, and the mails reach the SMTP sink
(after one temporary refusal; one address the mail server refuses for good).
Then every line the processes logged is searched for the persons' data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.support import auth
from tests.support.notifications_smtp_sink import SmtpSink
from tests.support.system import System
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
    "seats": 1,
    "registration_deadline": "2021-12-03T12:00:00",
    "next_year_members_free": True,
}


def person(
    name: str, local: str, unique: str, code: str, note: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "email": f"{local}.{unique}@kommune{code}.dk",
        "job_title": "Boligsocial konsulent",
        "municipality_code": code,
        "note": note,
    }


def contact(name: str, local: str, unique: str, code: str, year: int) -> dict[str, Any]:
    return {
        "municipality_code": code,
        "year": year,
        "contact_name": name,
        "contact_email": f"{local}.{unique}@kommune{code}.dk",
        "ean": "5798000000001",
    }


def personal_strings(people: list[dict[str, Any]]) -> set[str]:
    """Names (and each part of them), e-mail addresses (and their local parts), notes."""
    found: set[str] = set()
    for p in people:
        for key in ("name", "contact_name"):
            if p.get(key):
                found.add(p[key])
                found.update(part for part in p[key].replace("-", " ").split() if len(part) > 4)
        for key in ("email", "contact_email"):
            if p.get(key):
                found.update({p[key], p[key].split("@")[0]})
        if p.get("note"):
            found.add(p["note"])
    return found


def logged_forms(text: str) -> set[str]:
    """The text as it would appear in a log: as is, and JSON-escaped (``\\u00e6`` for æ)."""
    return {text.lower(), json.dumps(text)[1:-1].lower()}


def read_logs(system: System) -> dict[str, str]:
    """Everything each process wrote to its log file (stdout and stderr)."""
    logs: dict[str, str] = {}
    for service, processes in system.instances.items():
        for process in processes:
            assert process.log_path is not None
            logs[f"{service}:{process.port}"] = Path(process.log_path).read_text(errors="replace")
    return logs


async def test_a_whole_story_leaves_no_personal_data_in_any_log(
    system: System, smtp_sink: SmtpSink, unique: str
) -> None:
    await system.start("membership")
    await system.start("events")
    await system.start("notifications")
    membership, events = system.url("membership"), system.url("events")

    contacts = [
        contact("Ingeborg Kjærsgaard", "ingeborg.kjaersgaard", unique, "101", 2021),
        contact("Thorbjørn Østergaard-Lund", "thorbjoern.oestergaard", unique, "751", 2022),
    ]
    new_contact = {
        "contact_name": "Sigrid Halvorsen-Bech",
        "contact_email": f"sigrid.halvorsen.{unique}@kommune101.dk",
    }
    first = person(
        "Valdemar Rosenkrantz-Møller",
        "valdemar.rosenkrantz",
        unique,
        "101",
        "Valdemar er allergisk over for nødder og bruger kørestol",
    )
    second = person(
        "Kirstine Bjerregaard-Holm", "kirstine.bjerregaard", unique, "751", "Kirstines tolk"
    )
    outsider = person("Gorm Lykkegaard-Friis", "gorm.lykkegaard", unique, "461", "Gorms note")
    malformed = person("Dagmar Frederiksholm", "dagmar.frederiksholm", unique, "101")
    malformed["email"] = "Dagmar Frederiksholm <ikke en adresse>"
    # The mail server refuses this one for good, so the failure path runs (and logs) too.
    refused = person("Rasmus Vinding-Thygesen", "reject-rasmus.vinding", unique, "101")
    smtp_sink.refuse_next_rcpts = 1  # and one temporary refusal: the retry path

    async with httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as http:
        joined = []
        for body in contacts:
            r = await http.post(f"{membership}/networks/knub/memberships", json=body)
            assert r.status_code == 201, r.text
            joined.append(r.json()["membership_id"])
        r = await http.put(f"{membership}/memberships/{joined[0]}/contact", json=new_contact)
        assert r.status_code == 200, r.text

        r = await http.post(f"{events}/meetings", json=MEETING)
        assert r.status_code == 201, r.text
        meeting = r.json()["meeting_id"]
        registrations = f"{events}/meetings/{meeting}/registrations"

        r = await http.post(registrations, json=first)
        assert r.status_code == 201, r.text  # the only seat
        first_id = r.json()["registration_id"]
        r = await http.post(registrations, json=second)
        assert r.status_code == 202, r.text  # the waiting list (next year's member, the offer)
        assert (await http.post(registrations, json=outsider)).status_code == 403
        assert (await http.post(registrations, json=first)).status_code == 409
        assert (await http.post(registrations, json=malformed)).status_code == 422
        r = await http.post(registrations, json=refused)
        assert r.status_code == 202, r.text  # behind the second on the waiting list

        r = await http.post(f"{registrations}/{first_id}/cancel", json={})
        assert r.status_code == 200, r.text
        assert len(r.json()["promoted"]) == 1

    async def all_mail_delivered() -> bool:
        return all(
            [
                smtp_sink.to(contacts[0]["contact_email"]),
                smtp_sink.to(contacts[1]["contact_email"]),
                len(smtp_sink.to(first["email"])) >= 2,  # confirmed, cancelled
                len(smtp_sink.to(second["email"])) >= 2,  # waiting list, promoted
            ]
        )

    await wait_until(all_mail_delivered, timeout=120, what="the story's mails in the sink")
    async with httpx.AsyncClient(headers=auth.OPERATOR, timeout=30) as http:
        notifications = system.url("notifications")

        async def refused_for_good() -> bool:
            r = await http.get(f"{notifications}/deliveries", params={"status": "failed"})
            return any(d["registration_id"] for d in r.json()["items"])

        await wait_until(refused_for_good, timeout=120, what="the refused mail marked failed")
        # An operator looks up a person's feed: the address travels in the URL path.
        feed = await http.get(f"{notifications}/recipients/{second['email']}/notifications")
        assert feed.json()["total"] >= 2
    await system.stop_all()  # every process has written and closed its log

    logs = read_logs(system)
    assert len(logs) == 3
    for name, text in logs.items():
        assert "service started" in text, f"{name} logged nothing we can search"

    people = [*contacts, new_contact, first, second, outsider, malformed, refused]
    leaks = [
        (name, secret)
        for name, text in logs.items()
        for secret in personal_strings(people)
        if any(form in text.lower() for form in logged_forms(secret))
    ]
    assert leaks == []
