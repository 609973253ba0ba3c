"""The issue's story with the real services, each its own process, over Kafka and PostgreSQL.

2 December 2021, the day after the lists: KL imports the 2021 lists and invites the listed
municipalities that are not members for 2022, each at the address the operator gives (one
Danish mail each, in the SMTP sink). Fredericia joins for 2022 and registers for the
8 December meeting under the offer; on the day, its participant comes. The outreach and the
statistics show Fredericia converted, and a rebuild from the event store (and the meetings
topic) gives the same numbers.

The services' clocks run "as of" a moment each: membership's an hour behind the events
service's, so that what membership records (joins, invitations) is ordered as the story
tells it against the meeting's offer, however many seconds apart the processes started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from services.kernel.kafka import KafkaSettings
from services.membership.config import Settings as MembershipSettings
from services.membership.operations import rebuild_outreach
from tests.support import auth
from tests.support.notifications_smtp_sink import ReceivedMail
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.system import System
from tests.support.waiting import wait_until

CPH = ZoneInfo("Europe/Copenhagen")
LIST_CSV = (
    Path(__file__).resolve().parents[3] / "services/operator/demo_data/area-list-2021-12-01.csv"
)
WEB = "https://netvaerk.kl.dk"
SUBJECT = "Invitation til Kommunernes Netværk for Udsatte Boligområder 2022"
MEMBERS_2022 = ("101", "751")  # København and Aarhus: members of 2021, renewed for 2022
CONVERTS = "607"  # Fredericia: on the list of forebyggelsesområder
AREAS = {  # one area of each listed municipality, as its invitation must name it
    "159": "Værebro",
    "169": "Tåstrupgård",
    "316": "Agervang",
    "461": "Vollsmose",
    "540": "Nørager/Søstjernevej",
    "561": "Stengårdsvej",
    "607": "Korskærparken",
    "615": "Sundparken",
    "621": "Skovvejen/Skovparken",
    "791": "Houlkærvænget",
}
OPERATOR = auth.headers("operator")


def address(code: str) -> str:
    return f"boligsocial@kommune{code}.example.dk"


def text_of(mail: ReceivedMail) -> str:
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


async def join(http: httpx.AsyncClient, membership: str, code: str, year: int) -> None:
    answer = await http.post(
        f"{membership}/networks/knub/memberships",
        json={
            "municipality_code": code,
            "year": year,
            "contact_name": "Kontakt Person",
            "contact_email": f"kontakt@kommune{code}.example.dk",
            "ean": "5798000000001",
        },
    )
    assert answer.status_code == 201, answer.text


async def register(http: httpx.AsyncClient, events: str, meeting_id: str, code: str) -> Any:
    answer = await http.post(
        f"{events}/meetings/{meeting_id}/registrations",
        json={
            "name": f"Medarbejder {code}",
            "email": f"medarbejder@kommune{code}.example.dk",
            "job_title": "Boligsocial koordinator",
            "municipality_code": code,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def wipe_outreach(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for table in (
            "outreach_area_lists",
            "outreach_listed_areas",
            "outreach_invitations",
            "outreach_reminders",
            "outreach_meeting_facts",
            "membership_roster",
        ):
            await conn.execute(f"DELETE FROM {table}")
    finally:
        await conn.close()


async def test_the_2021_lists_invitations_a_conversion_and_a_rebuild_that_agrees(
    system: System,
) -> None:
    await system.start("membership", MEMBERSHIP_CLOCK_AS_OF="2021-12-02T09:00:00+01:00")
    await system.start("events", EVENTS_CLOCK_AS_OF="2021-12-02T10:00:00+01:00")
    await system.start("notifications", NOTIFICATIONS_WEB_URL=WEB)
    membership, events = system.url("membership"), system.url("events")
    smtp = system.smtp

    async with httpx.AsyncClient(headers=OPERATOR, timeout=20) as http:
        for code in MEMBERS_2022:
            await join(http, membership, code, 2021)
            renewed = await http.post(f"{membership}/memberships/membership-knub-2021-{code}/renew")
            assert renewed.status_code == 201, renewed.text
        created = await http.post(
            f"{events}/meetings",
            json={
                "slug": "knub-2021-3",
                "network_slug": "knub",
                "year": 2021,
                "title": "3. netværksmøde 2021",
                "description": "Systematisering af anvisning og udlejning",
                "starts_at": "2021-12-08T09:30:00",
                "ends_at": "2021-12-08T15:30:00",
                "venue_name": "KL-huset",
                "venue_address": "Weidekampsgade 10, 2300 København S",
                "seats": 10,
                "registration_deadline": "2021-12-03T12:00:00",
                "next_year_members_free": True,
            },
        )
        assert created.status_code == 201, created.text
        meeting_id = created.json()["meeting_id"]
        await register(http, events, meeting_id, "751")
        await wait_until(
            lambda: _async(bool(smtp.to("medarbejder@kommune751.example.dk"))),
            timeout=60,
            what="Aarhus's confirmation: notifications has seen its seat",
        )

        # Import the 2021 list (again: nothing changes).
        imported = await http.post(
            f"{membership}/area-lists",
            content=LIST_CSV.read_bytes(),
            headers={"Content-Type": "text/csv"},
            params={"partial": "true"},
        )
        assert imported.status_code == 201, imported.text
        again = await http.post(
            f"{membership}/area-lists", content=LIST_CSV.read_bytes(),
            headers={"Content-Type": "text/csv"}, params={"partial": "true"},
        )  # fmt: skip
        assert (again.status_code, again.json()["changed"]) == (200, False)

        async def outreach() -> dict[str, Any]:
            answer = await http.get(f"{membership}/networks/knub/outreach/2021")
            assert answer.status_code in (200, 404), answer.text
            return answer.json() if answer.status_code == 200 else {}

        async def offer_seen() -> bool:
            view = await outreach()
            offer = view.get("offer_meeting")
            return bool(offer) and offer["meeting_id"] == meeting_id and offer["confirmed"] == 1

        await wait_until(offer_seen, timeout=60, what="the list and the offer in the outreach")

        # Invite every listed municipality that is not a member for 2022.
        listed = [r["municipality_code"] for r in (await outreach())["items"]]
        assert len(listed) == 12
        request = {
            "list_date": "2021-12-01",
            "invitations": [
                {"municipality_code": c, "contact_email": address(c)}
                for c in listed
                if c not in MEMBERS_2022
            ],
        }
        invited = await http.post(f"{membership}/networks/knub/invitations", json=request)
        assert invited.status_code == 200, invited.text
        assert invited.json()["sent"] == 10
        assert {r["outcome"] for r in invited.json()["results"]} == {"invited"}
        twice = await http.post(f"{membership}/networks/knub/invitations", json=request)
        assert twice.json()["sent"] == 0
        assert {r["outcome"] for r in twice.json()["results"]} == {"already_invited"}

        async def every_invitation_mailed() -> bool:
            return all(smtp.to(address(c)) for c in AREAS)

        await wait_until(every_invitation_mailed, timeout=60, what="ten invitations mailed")
        for code, area in AREAS.items():
            [mail] = smtp.to(address(code))
            assert mail.subject == SUBJECT
            text = text_of(mail)
            assert "Listerne over almene boligområder fra 1. december 2021" in text
            assert area in text
            assert "kan kommunens medarbejdere deltage gratis i 3. netværksmøde 2021" in text
            assert "onsdag den 8. december 2021 kl. 09.30" in text
            assert "Der er 9 ledige pladser lige nu." in text
            assert f"Meld kommunen ind her: {WEB}/kommuner/{code}" in text
        assert not any(smtp.to(address(c)) for c in MEMBERS_2022)

        # Fredericia joins for 2022 and registers for the meeting under the offer.
        await join(http, membership, CONVERTS, 2022)
        seat = await register(http, events, meeting_id, CONVERTS)
        assert (seat["status"], seat["basis"], seat["price_dkk"]) == (
            "confirmed",
            "next_year_offer",
            0,
        )

        async def converted() -> dict[str, Any] | None:
            view = await outreach()
            row = next(r for r in view.get("items", []) if r["municipality_code"] == CONVERTS)
            return view if row["registered_with_offer"] == 1 and row["converted"] else None

        await wait_until(converted, timeout=60, what="Fredericia converted in the outreach")

    # The meeting day: the events service runs as of 8 December; attendance is recorded.
    await system.kill("events")
    [on_the_day] = await system.start("events", EVENTS_CLOCK_AS_OF="2021-12-08T11:00:00+01:00")
    async with httpx.AsyncClient(headers=OPERATOR, timeout=20) as http:
        participants = (
            await http.get(f"{on_the_day.url}/meetings/{meeting_id}/registrations")
        ).json()
        by_code = {p["municipality_code"]: p["registration_id"] for p in participants}
        for code, came in ((CONVERTS, True), ("751", False)):
            answer = await http.post(
                f"{on_the_day.url}/meetings/{meeting_id}/registrations/{by_code[code]}/attendance",
                json={"attended": came},
            )
            assert answer.status_code == 200, answer.text

        async def came() -> dict[str, Any] | None:
            view = await outreach()
            row = next(r for r in view["items"] if r["municipality_code"] == CONVERTS)
            stats = (await http.get(f"{membership}/networks/knub/statistics")).json()
            recorded = stats["meetings"][0]["attended"] + stats["meetings"][0]["no_shows"]
            return view if row["staff_came"] is True and recorded == 2 else None

        view = await wait_until(came, timeout=60, what="the attendance in the projections")
        fredericia = next(r for r in view["items"] if r["municipality_code"] == CONVERTS)
        assert fredericia["status"] == "joined"
        assert fredericia["converted"] is True
        assert fredericia["joined_while_offer_open"] is True
        assert view["totals"] == {
            "listed": 12,
            "not_invited": 0,
            "invited": 9,
            "joined": 3,
            "converted": 1,
            "joined_while_offer_open": 1,
            "staff_came": 1,
        }
        stats = (await http.get(f"{membership}/networks/knub/statistics")).json()
        [m2022] = [m for m in stats["members"] if m["year"] == 2022]
        split = (m2022["members"], m2022["new"], m2022["renewed"], m2022["through_offer"])
        assert split == (3, 0, 2, 1)
        [meeting] = stats["meetings"]
        assert (meeting["seats"], meeting["confirmed"], meeting["with_offer"]) == (10, 2, 1)
        assert (meeting["attended"], meeting["no_shows"], meeting["no_show_rate"]) == (1, 1, 0.5)
        coverage = {(c["year"], c["category"]): c for c in stats["coverage"]}
        assert (coverage[(2022, "alle")]["listed"], coverage[(2022, "alle")]["members"]) == (12, 3)
        tables = {
            t: (
                await http.get(f"{membership}/networks/knub/statistics.csv", params={"table": t})
            ).text
            for t in ("members", "meetings", "coverage")
        }

        # A rebuild from the event store (and the meetings topic) gives the same numbers.
        await wipe_outreach(system.dsn("membership"))
        assert (await http.get(f"{membership}/networks/knub/outreach/2021")).status_code == 404
        settings = MembershipSettings(
            database_url=system.dsn("membership"),
            kafka=KafkaSettings(bootstrap_servers=KAFKA_BOOTSTRAP, topic_prefix=system.prefix),
        )
        rebuilt = await rebuild_outreach(settings)
        assert (rebuilt.memberships, rebuilt.lists_and_invitations) == (5, 11)
        assert await outreach() == view
        assert (await http.get(f"{membership}/networks/knub/statistics")).json() == stats
        for table, text in tables.items():
            again_csv = await http.get(
                f"{membership}/networks/knub/statistics.csv", params={"table": table}
            )
            assert again_csv.text == text


async def _async(value: bool) -> bool:
    return value
