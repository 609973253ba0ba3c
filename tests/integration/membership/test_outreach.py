"""The outreach in the membership service, on the real PostgreSQL and Kafka.

The lists and invitations go through the service's HTTP API, its event store, the outbox
and Kafka, and back through its own subscription into the read models. The meetings come
from the meetings topic, as the events service publishes them (here: published by the test,
in the events service's contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaProducer

from contracts import meetings as wm
from contracts.base import EventPayload, registry
from contracts.envelope import Envelope, decode, encode
from contracts.outreach import AREA_LIST_TOPIC, INVITATION_TOPIC, AreaListPublished
from services.kernel.eventstore import EventStore
from services.membership.adapters import roster
from services.membership.adapters.outreach_rebuild import (
    rebuild_from_event_store,
    rebuild_meeting_facts,
)
from services.membership.entrypoints.outreach_subscribers import OUTREACH_CONSUMER
from tests.integration.membership.conftest import MembershipService, join_body
from tests.support import auth
from tests.support.kafka import read_topic
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.waiting import wait_until

CPH = ZoneInfo("Europe/Copenhagen")
OUTREACH_DAY = datetime(2021, 12, 2, 10, 0, tzinfo=CPH)
LIST_CSV = (
    Path(__file__).resolve().parents[3] / "services/operator/demo_data/area-list-2021-12-01.csv"
).read_bytes()
CSV = {"Content-Type": "text/csv"}
MEETING = "meeting-knub-2021-3"


async def import_list(
    service: MembershipService, body: bytes = LIST_CSV, **params: Any
) -> httpx.Response:
    return await service.client.post("/area-lists", content=body, headers=CSV, params=params)


async def publish_meetings(service: MembershipService, payloads: Sequence[EventPayload]) -> None:
    """Publish meeting events as the events service does (CloudEvents, key = meeting id)."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, enable_idempotence=True)
    await producer.start()
    try:
        for payload in payloads:
            assert isinstance(payload, wm.MeetingScheduled | wm.RegistrationConfirmed)
            wire = encode(
                Envelope(
                    type=payload.type_name(),
                    source="/kl/events",
                    subject=payload.meeting_id,
                    data=payload.to_data(),
                    time=payload.occurred_at,
                )
            )
            await producer.send_and_wait(
                service.topic_prefix + wm.MEETING_TOPIC,
                wire.value,
                key=wire.key,
                headers=list(wire.headers),
            )
    finally:
        await producer.stop()


def scheduled(at: datetime) -> wm.MeetingScheduled:
    return wm.MeetingScheduled(
        meeting_id=MEETING,
        occurred_at=at,
        network_slug="knub",
        year=2021,
        title="3. netværksmøde 2021",
        description="Anvisning og udlejning",
        starts_at=datetime(2021, 12, 8, 9, 30, tzinfo=CPH),
        ends_at=datetime(2021, 12, 8, 15, 30, tzinfo=CPH),
        venue_name="KL-huset",
        venue_address="Weidekampsgade 10, 2300 København S",
        seats=80,
        registration_deadline=datetime(2021, 12, 3, 12, 0, tzinfo=CPH),
        next_year_members_free=True,
    )


def confirmed(rid: str, code: str, basis: str, at: datetime) -> wm.RegistrationConfirmed:
    return wm.RegistrationConfirmed(
        meeting_id=MEETING,
        occurred_at=at,
        registration_id=rid,
        participant=wm.SealedParticipant(
            person_id=f"person-{rid}", municipality_code=code, sealed="v1.not-opened-here"
        ),
        basis=basis,
        price_dkk=0,
    )


async def outreach(service: MembershipService, **params: str) -> dict[str, Any]:
    answer = await service.client.get("/networks/knub/outreach/2021", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def statistics(service: MembershipService) -> dict[str, Any]:
    answer = await service.client.get("/networks/knub/statistics")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_an_operator_imports_the_2021_list_once_and_it_is_on_the_topic(
    service: MembershipService,
) -> None:
    service.clock.set(OUTREACH_DAY)
    first = await import_list(service, partial="true")
    again = await import_list(service, partial="true")

    assert first.status_code == 201, first.text
    assert (first.json()["rows"], first.json()["municipalities"]) == (39, 12)
    assert (again.status_code, again.json()["changed"]) == (200, False)
    assert await service.event_count("area-list-2021-12-01") == 1
    await service.all_published()
    [record] = await read_topic(service.topic_prefix + AREA_LIST_TOPIC, expect=1)
    envelope = decode(record.key, record.headers, record.value)
    payload = registry.parse(envelope.type, envelope.data)
    assert isinstance(payload, AreaListPublished)
    assert (payload.revision, payload.partial, len(payload.rows)) == (1, True, 39)

    async def projected() -> bool:
        lists = (await service.client.get("/area-lists")).json()
        return bool(lists["total"] == 1)

    await wait_until(projected, what="the list in the read model")
    odense = (await service.client.get("/municipalities/461/areas")).json()
    [listed] = odense["lists"]
    assert listed["partial"] is True
    assert {(a["category_name"], a["area"]) for a in listed["items"]} == {
        ("parallelsamfund", "Vollsmose"),
        ("omdannelsesområde", "Vollsmose"),
        ("udsat boligområde", "Vollsmose"),
    }


async def test_bad_rows_get_one_problem_naming_row_and_column_and_nothing_is_imported(
    service: MembershipService,
) -> None:
    body = (
        "list_date,category,area,municipality_code,municipality\n"
        "2021-12-01,udsat,Vollsmose,461,Odense\n"
        "2021-12-01,udsat,Nowhere,999,\n"
        "2021-12-01,ghetto,Agervang,316,Holbæk\n"
        "2021-11-30,udsat,Stærevej,101,København\n"
    ).encode()

    answer = await import_list(service, body)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "urn:kl:problem:invalid-area-list"
    assert [(e["row"], e["column"]) for e in problem["errors"]] == [
        (3, "municipality_code"),
        (4, "category"),
        (5, "list_date"),
    ]
    assert "række 3, kolonne municipality_code" in problem["detail"]
    assert "Intet er importeret" in problem["detail"]
    assert await service.event_count() == 1, "only the seeded network: nothing imported"


async def test_a_later_list_for_the_same_date_replaces_it_as_a_new_event(
    service: MembershipService,
) -> None:
    await import_list(service)
    lines = LIST_CSV.decode().splitlines()
    shorter = "\n".join(lines[:13]).encode()  # the header and the 12 parallelsamfund

    replaced = await import_list(service, shorter)

    assert (replaced.status_code, replaced.json()["revision"]) == (201, 2)
    assert await service.event_count("area-list-2021-12-01") == 2

    async def replaced_in_read_model() -> bool:
        current = (await service.client.get("/area-lists/2021-12-01")).json()
        return bool(current.get("revision") == 2 and len(current["items"]) == 12)

    await wait_until(replaced_in_read_model, what="revision 2 in the read model")


async def test_invitations_outreach_statistics_and_a_rebuild_that_gives_the_same(
    service: MembershipService,
) -> None:
    service.clock.set(OUTREACH_DAY - timedelta(days=30))  # before the offer began
    await service.client.post("/networks/knub/memberships", json=join_body("101", 2022))
    service.clock.set(OUTREACH_DAY)
    await import_list(service, partial="true")
    await publish_meetings(service, [scheduled(OUTREACH_DAY - timedelta(days=13))])

    async def offer_known() -> bool:
        answer = await service.client.get("/networks/knub/outreach/2021")
        return answer.status_code == 200 and answer.json()["offer_meeting"] is not None

    await wait_until(offer_known, what="the list and the offer's meeting in the outreach")
    listed = [r["municipality_code"] for r in (await outreach(service))["items"]]
    invitations = [
        {"municipality_code": c, "contact_email": f"boligsocial@k{c}.example.dk"} for c in listed
    ]
    request = {"list_date": "2021-12-01", "invitations": invitations}
    answer = await service.client.post("/networks/knub/invitations", json=request)

    assert answer.status_code == 200, answer.text
    outcomes = {r["municipality_code"]: r["outcome"] for r in answer.json()["results"]}
    assert outcomes.pop("101") == "member"
    assert set(outcomes.values()) == {"invited"}
    assert answer.json()["sent"] == 11
    assert answer.json()["meeting_id"] == MEETING
    again = await service.client.post("/networks/knub/invitations", json=request)
    assert again.json()["sent"] == 0
    await service.all_published()
    records = await read_topic(service.topic_prefix + INVITATION_TOPIC, expect=11)
    assert len(records) == 11
    assert not any(b"example.dk" in r.value for r in records), "the contact travels sealed"

    service.clock.set(OUTREACH_DAY + timedelta(hours=1))
    joined = await service.client.post("/networks/knub/memberships", json=join_body("607", 2022))
    assert joined.status_code == 201
    await publish_meetings(
        service,
        [confirmed("r1", "607", "next_year_offer", OUTREACH_DAY + timedelta(hours=2))],
    )

    async def converted() -> dict[str, Any] | None:
        body = await outreach(service, status="joined")
        rows = {r["municipality_code"]: r for r in body["items"]}
        fredericia = rows.get("607")
        return body if fredericia and fredericia["registered_with_offer"] == 1 else None

    joined_view = await wait_until(converted, what="Fredericia converted in the outreach")
    fredericia = next(r for r in joined_view["items"] if r["municipality_code"] == "607")
    assert fredericia["converted"] is True
    assert fredericia["joined_while_offer_open"] is True
    assert joined_view["totals"]["converted"] == 1
    stats = await statistics(service)
    [m2022] = [m for m in stats["members"] if m["year"] == 2022]
    assert (m2022["members"], m2022["through_offer"]) == (2, 1)
    [meeting] = stats["meetings"]
    assert (meeting["confirmed"], meeting["with_offer"]) == (1, 1)
    table = await service.client.get("/networks/knub/statistics.csv", params={"table": "members"})
    assert table.headers["content-type"].startswith("text/csv")
    assert table.text.splitlines()[0] == "\ufeffår;medlemmer;nye;fornyede;via tilbuddet;opsagte"

    # Rebuild: the tables wiped, then refilled from the event store and the meetings topic.
    before = (await outreach(service), await statistics(service))
    for table_name in ("outreach_area_lists", "outreach_listed_areas", "outreach_invitations",
                       "outreach_meeting_facts", "membership_roster"):  # fmt: skip
        await service.pool.execute(f"DELETE FROM {table_name}")
    consumer = service.topic_prefix + OUTREACH_CONSUMER
    store = EventStore(source="/kl/membership")
    await roster.rebuild(service.pool, store)
    assert await rebuild_from_event_store(service.pool, store, consumer) == 12
    kafka = service.container.settings.kafka
    assert await rebuild_meeting_facts(service.pool, kafka, consumer) == 2

    assert (await outreach(service), await statistics(service)) == before


async def test_a_retried_reminder_with_its_idempotency_key_sends_one(
    service: MembershipService,
) -> None:
    service.clock.set(OUTREACH_DAY)
    await import_list(service)
    entry = {"municipality_code": "461", "contact_email": "sara@odense.example.dk"}
    first = {"list_date": "2021-12-01", "invitations": [entry]}
    await service.client.post("/networks/knub/invitations", json=first)
    reminder = {**first, "reminder": True}
    key = {"Idempotency-Key": "reminder-odense-1"}

    sent = await service.client.post("/networks/knub/invitations", json=reminder, headers=key)
    retried = await service.client.post("/networks/knub/invitations", json=reminder, headers=key)

    assert sent.json()["results"][0]["outcome"] == "reminded"
    assert retried.json() == sent.json()
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert await service.event_count("invitation-knub-2022-461") == 2


async def test_a_coordinator_sees_the_invitations_of_their_own_municipality_only(
    service: MembershipService,
) -> None:
    service.clock.set(OUTREACH_DAY)
    await import_list(service)
    entry = {"municipality_code": "461", "contact_email": "sara@odense.example.dk"}
    await service.client.post(
        "/networks/knub/invitations", json={"list_date": "2021-12-01", "invitations": [entry]}
    )
    own = {"Authorization": f"Bearer {auth.token('coordinator', '461')}"}
    other = {"Authorization": f"Bearer {auth.token('coordinator', '751')}"}

    async def listed() -> bool:
        answer = await service.client.get("/municipalities/461/invitations", headers=own)
        return bool(answer.json()["total"] == 1)

    await wait_until(listed, what="the invitation in the read model")
    [shown] = (await service.client.get("/municipalities/461/invitations", headers=own)).json()[
        "items"
    ]
    assert "sara" not in str(shown), "no address in the answer"
    refused = await service.client.get("/municipalities/461/invitations", headers=other)
    assert refused.status_code == 403


async def test_an_invitations_contact_is_sealed_held_and_unreadable_once_erased(
    service: MembershipService,
) -> None:
    service.clock.set(OUTREACH_DAY)
    await import_list(service)
    entry = {"municipality_code": "461", "contact_email": "sara@odense.example.dk"}
    await service.client.post(
        "/networks/knub/invitations", json={"list_date": "2021-12-01", "invitations": [entry]}
    )
    [row] = await service.pool.fetch(
        "SELECT data FROM events WHERE stream_id = 'invitation-knub-2022-461'"
    )
    assert "sara@" not in str(row["data"])
    person_id, sealed = row["data"]["contact_person_id"], row["data"]["contact_sealed"]
    vault = service.container.vault
    assert await vault.open(person_id, sealed) == {"name": "", "email": "sara@odense.example.dk"}
    pool = await vault.pool()
    holds = await pool.fetch("SELECT holder, until FROM holds WHERE person_id = $1", person_id)
    assert [(h["holder"], h["until"].year) for h in holds] == [
        ("invitation:invitation-knub-2022-461", 2023)
    ]

    assert await vault.erase(person_id, "request")
    vault.forget(person_id)

    assert await vault.open(person_id, sealed) is None
