"""The logs of a whole run with registrations, mails and an erasure name no one.

The three services run as real processes. Staff register (a seat, the waiting list), one
cancels and the next is promoted, mails go out, an operator looks up a person's feed (the
address in the URL), erases a person by e-mail, and asks to erase an e-mail nobody has.
Then everything every process wrote (stdout and stderr) is searched, case-insensitively,
for the persons' names, e-mail addresses and notes, as is, JSON-escaped and URL-encoded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

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
}


def staff(name: str, local: str, unique: str, code: str, note: str) -> dict[str, Any]:
    return {
        "name": name,
        "email": f"{local}.{unique}@kommune{code}.dk",
        "job_title": "Boligsocial konsulent",
        "municipality_code": code,
        "note": note,
    }


def secrets(people: list[dict[str, Any]]) -> set[str]:
    """Names and their longer parts, addresses and their local parts, notes."""
    found: set[str] = set()
    for p in people:
        for key in ("name", "contact_name"):
            if p.get(key):
                found.add(p[key])
                found.update(w for w in p[key].replace("-", " ").split() if len(w) > 4)
        for key in ("email", "contact_email"):
            if p.get(key):
                found.update({p[key], p[key].split("@")[0]})
        if p.get("note"):
            found.add(p["note"])
    return found


def read_log(path: Path) -> str:
    return path.read_text(errors="replace").lower()


def forms(secret: str) -> set[str]:
    """How a secret may appear in a log line, lower case."""
    return {
        f.lower()
        for f in (
            secret,
            json.dumps(secret)[1:-1],
            quote(secret),
            quote(secret, safe=""),
            quote_plus(secret),
        )
    }


async def test_a_run_with_an_erasure_logs_no_personal_data(
    system: System, smtp_sink: SmtpSink, unique: str
) -> None:
    await system.start("membership")
    await system.start("events")
    await system.start("notifications")
    membership, events = system.url("membership"), system.url("events")
    notifications = system.url("notifications")

    contact = {
        "municipality_code": "101",
        "year": 2021,
        "contact_name": "Henrikke Sommerfeldt",
        "contact_email": f"henrikke.sommerfeldt.{unique}@kommune101.dk",
        "ean": "5798000000001",
    }
    first = staff("Ludvig Ahlefeldt-Bille", "ludvig.ahlefeldt", unique, "101", "Ludvigs nødder")
    second = staff("Margrethe Skovgaard", "margrethe.skovgaard", unique, "101", "Margrethes tolk")
    third = staff("Vilhelmine Trolle", "vilhelmine.trolle", unique, "101", "Vilhelmines diæt")
    stranger = f"ingen.kender.{unique}@kommune101.dk"

    async with httpx.AsyncClient(timeout=30, headers=auth.OPERATOR) as http:
        r = await http.post(f"{membership}/networks/knub/memberships", json=contact)
        assert r.status_code == 201, r.text
        r = await http.post(f"{events}/meetings", json=MEETING)
        assert r.status_code == 201, r.text
        registrations = f"{events}/meetings/{r.json()['meeting_id']}/registrations"
        r = await http.post(registrations, json=first)
        assert r.status_code == 201, r.text
        first_id = r.json()["registration_id"]
        assert (await http.post(registrations, json=second)).status_code == 202
        assert (await http.post(registrations, json=third)).status_code == 202
        assert (await http.post(registrations, json=first)).status_code == 409
        bad = {**third, "email": f"{third['name']} <ikke en adresse>"}
        assert (await http.post(registrations, json=bad)).status_code == 422
        r = await http.post(f"{registrations}/{first_id}/cancel", json={})
        assert r.status_code == 200, r.text
        assert len(r.json()["promoted"]) == 1

        async def mailed() -> bool:
            return bool(
                smtp_sink.to(contact["contact_email"])
                and len(smtp_sink.to(first["email"])) >= 2
                and len(smtp_sink.to(second["email"])) >= 2
                and smtp_sink.to(third["email"])
            )

        await wait_until(mailed, timeout=120, what="the run's mails")
        feed = await http.get(f"{notifications}/recipients/{quote(second['email'])}/notifications")
        assert feed.json()["total"] >= 2

        r = await http.post(f"{events}/persons/erasures", json={"email": second["email"]})
        assert r.status_code == 202, r.text
        r = await http.post(f"{events}/persons/erasures", json={"email": stranger})
        assert r.status_code == 404, r.text
        r = await http.post(f"{events}/persons/erasures", json={"email": "ikke en adresse"})
        assert r.status_code == 422, r.text

        async def erased_everywhere() -> bool:
            r = await http.get(f"{notifications}/recipients/{second['email']}/notifications")
            rows = (await http.get(registrations)).json()
            return r.json()["total"] == 0 and any(row["erased"] for row in rows)

        await wait_until(erased_everywhere, timeout=60, what="the erasure applied")
    await system.stop_all()  # every process has written and closed its log

    logs = {
        f"{service}:{p.port}": read_log(Path(str(p.log_path)))
        for service, processes in system.instances.items()
        for p in processes
    }
    assert len(logs) == 3
    assert all("service started" in text for text in logs.values())
    assert any("person erased" in text for text in logs.values()), "the erasure was logged"
    people = [contact, first, second, third, {"email": stranger}]
    leaks = [
        (name, secret)
        for name, text in logs.items()
        for secret in secrets(people)
        if any(form in text for form in forms(secret))
    ]
    assert leaks == []
