"""The seed's story as demo data, loaded through the services' own APIs.

As of 19 November 2021 (the day of KL's announcement): KNUB exists (the membership service
seeds it), four municipalities are members for 2021, Aalborg joins for 2022 and so may come
free to the 8 December 2021 meeting under the offer, and a few staff have registered.
Every step is idempotent: joins are idempotent by rule, the meeting is seeded once, and a
registration that already exists answers 409, which the seed takes as done.
The people are invented; the addresses use the reserved example.dk domain of no one.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

DEMO_AS_OF = "2021-11-19T09:00:00+01:00"
DEMO_MEETING_ID = "meeting-knub-2021-3"


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


async def seed(membership_url: str, events_url: str, token: str) -> list[str]:
    """Load the demo as an operator (``token``); return one line per step for the operator."""
    lines: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        for join in JOINS:
            r = await client.post(
                f"{membership_url}/networks/knub/memberships",
                json={
                    "municipality_code": join.code,
                    "year": join.year,
                    "contact_name": join.contact_name,
                    "contact_email": join.contact_email,
                    "ean": join.ean,
                },
            )
            _check(r, f"join {join.code} for {join.year}")
            lines.append(f"membership {join.code} {join.year}: {r.status_code}")
        meeting = await client.get(f"{events_url}/meetings/{DEMO_MEETING_ID}")
        _check(meeting, "the demo meeting (seeded by the events service)")
        for person in REGISTRATIONS:
            r = await client.post(
                f"{events_url}/meetings/{DEMO_MEETING_ID}/registrations",
                json={
                    "name": person.name,
                    "email": person.email,
                    "job_title": person.job_title,
                    "municipality_code": person.code,
                    "note": person.note,
                },
            )
            if r.status_code == 409:
                lines.append(f"registration from {person.code}: already there")
                continue
            _check(r, f"registration from {person.code}")
            lines.append(
                f"registration from {person.code}: {r.json().get('status', r.status_code)}"
            )
    return lines


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
