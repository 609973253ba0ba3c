"""From source events on Kafka to mail in an SMTP sink: invitations, dedupe, retries, failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import asyncpg
import httpx
from icalendar import Calendar

from contracts.envelope import decode
from contracts.notifications import NOTIFICATION_TOPIC
from services.kernel.clock import ManualClock
from services.notifications.adapters.store import scrub_person
from services.notifications.bootstrap import NotificationsService
from services.notifications.domain.events import RegistrationPromoted
from services.notifications.domain.model import Person
from services.notifications.service_layer.delivery import DeliveryWorker
from services.notifications.service_layer.handlers import SourceEvent
from tests.integration.notifications.builders import (
    ANNE,
    BO,
    MEETING_ID,
    START,
    Publisher,
    confirmed,
    participant,
    promoted,
    scheduled,
    waitlisted,
)
from tests.integration.notifications.conftest import processed
from tests.support import auth
from tests.support.kafka import read_topic
from tests.support.notifications_smtp_sink import SmtpSink


def client(service: NotificationsService) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app), base_url="http://t", headers=auth.OPERATOR
    )


async def test_a_confirmed_registration_is_mailed_with_an_invitation_a_calendar_reads(
    service: NotificationsService, pool: asyncpg.Pool, publish: Publisher, smtp_sink: SmtpSink
) -> None:
    ids = [await publish.event(scheduled()), await publish.event(confirmed("reg-1"))]
    await processed(pool, *ids)
    assert await service.tick() == (0, 1)

    [mail] = smtp_sink.to("anne.jensen@aarhus.dk")
    assert mail.subject == "Tilmelding bekræftet: 3. netværksmøde 2021"
    body = mail.message.get_body(("plain",))
    assert body is not None
    assert "onsdag den 8. december 2021 kl. 09.30-15.30" in body.get_content()
    [ics] = [p for p in mail.message.walk() if p.get_content_type() == "text/calendar"]
    cal = Calendar.from_ical(ics.get_payload(decode=True))
    assert str(cal["METHOD"]) == "REQUEST"
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == "reg-1@netvaerk.kl.dk"
    assert event.decoded("DTSTART") == START
    assert str(event["LOCATION"]) == "KL-huset, Weidekampsgade 10, 2300 København S"


async def test_the_feed_shows_notifications_per_recipient_and_municipality_with_status(
    service: NotificationsService, pool: asyncpg.Pool, publish: Publisher, smtp_sink: SmtpSink
) -> None:
    ids = [
        await publish.event(scheduled()),
        await publish.event(confirmed("reg-1")),
        await publish.event(waitlisted("reg-2", BO, 1)),
    ]
    await processed(pool, *ids)
    async with client(service) as http:
        queued = (await http.get("/recipients/Anne.Jensen@aarhus.dk/notifications")).json()
        assert [(i["kind"], i["status"]) for i in queued["items"]] == [
            ("registration_confirmed", "queued")
        ]
        await service.tick()
        sent = (await http.get("/recipients/anne.jensen@aarhus.dk/notifications")).json()
        assert sent["total"] == 1
        assert sent["items"][0]["status"] == "sent"
        assert sent["items"][0]["attempts"] == 1
        odense = (await http.get("/municipalities/461/notifications?limit=10")).json()
        assert [i["kind"] for i in odense["items"]] == ["registration_waitlisted"]
        assert (await http.get("/municipalities/999/notifications")).json()["total"] == 0
        bad = await http.get("/municipalities/75/notifications")
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"


async def test_a_promotion_delivered_twice_sends_exactly_one_place_mail(
    service: NotificationsService, pool: asyncpg.Pool, publish: Publisher, smtp_sink: SmtpSink
) -> None:
    first = [await publish.event(scheduled()), await publish.event(waitlisted("reg-2", BO, 1))]
    promotion = uuid4()
    # The same Kafka record twice: same ce_id, as a relay that crashed before marking sends it.
    await publish.event(promoted("reg-2", BO), event_id=promotion)
    await publish.event(promoted("reg-2", BO), event_id=promotion)
    marker = await publish.event(confirmed("reg-3", ANNE))  # same key: after both copies
    await processed(pool, *first, promotion, marker)
    await service.tick()
    await service.tick()

    places = [m for m in smtp_sink.to("bo.holm@odense.dk") if "fået en plads" in m.subject]
    assert len(places) == 1
    assert places[0].subject == "Du har fået en plads: 3. netværksmøde 2021"
    assert len(smtp_sink.to("netvaerk@kl.dk")) == 1, "the organiser hears of it once"
    # Belt and braces: the same source event applied again, past the subscriber's dedupe,
    # meets the deliveries' unique key and queues nothing.
    promotion_again = RegistrationPromoted(MEETING_ID, "reg-2", Person("Bo Holm", BO.email), "461")
    async with pool.acquire() as conn, conn.transaction():
        store = service.notifier.stores.on(conn)  # type: ignore[attr-defined]
        again = await service.notifier.apply(
            store, [SourceEvent(str(promotion), lambda _: promotion_again)]
        )
    assert again == 0


async def test_a_server_that_refuses_for_a_while_gets_the_mail_exactly_once(
    service: NotificationsService,
    pool: asyncpg.Pool,
    publish: Publisher,
    smtp_sink: SmtpSink,
    clock: ManualClock,
    topic_prefix: str,
) -> None:
    smtp_sink.refuse_next_rcpts = 2  # 451 twice, then accept
    ids = [await publish.event(scheduled()), await publish.event(confirmed("reg-1"))]
    await processed(pool, *ids)

    assert await service.tick() == (0, 1)  # refused (451): retry in 1 minute
    assert await service.tick() == (0, 0), "not before its back-off"
    clock.advance(timedelta(minutes=1))
    assert await service.tick() == (0, 1)  # refused again: retry in 2 minutes
    clock.advance(timedelta(minutes=1))
    assert await service.tick() == (0, 0)
    clock.advance(timedelta(minutes=1))
    assert await service.tick() == (0, 1)  # accepted

    assert len(smtp_sink.to("anne.jensen@aarhus.dk")) == 1
    assert smtp_sink.rcpt_attempts["anne.jensen@aarhus.dk"] == 3
    row = await pool.fetchrow("SELECT status, attempts, last_error FROM deliveries")
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)
    clock.advance(timedelta(days=1))
    await service.tick()
    assert len(smtp_sink.messages) == 1, "a sent mail is never sent again"

    records = await read_topic(topic_prefix + NOTIFICATION_TOPIC, expect=2)
    types = sorted(decode(r.key, r.headers, r.value).type for r in records)
    assert types == ["dk.kl.notifications.queued.v2", "dk.kl.notifications.sent.v2"]
    assert not any(b"anne.jensen" in r.value for r in records), "the address travels sealed"


async def test_a_permanently_rejected_address_is_failed_with_its_codes_and_never_its_address(
    service: NotificationsService,
    pool: asyncpg.Pool,
    publish: Publisher,
    smtp_sink: SmtpSink,
    clock: ManualClock,
    topic_prefix: str,
) -> None:
    """The sink refuses in Postfix's words, naming the address: the reason kept in the
    delivery, the feed and the published event keeps the codes and the words, not it."""
    address = "reject-anne@example.dk"
    bad = participant("Anne Afvist", address)
    ids = [await publish.event(scheduled()), await publish.event(confirmed("reg-1", bad))]
    await processed(pool, *ids)
    await service.tick()
    for _ in range(3):
        clock.advance(timedelta(hours=2))
        assert await service.tick() == (0, 0)
    assert smtp_sink.rcpt_attempts[address] == 1
    assert smtp_sink.messages == []

    async with client(service) as http:
        failed = (await http.get("/deliveries?status=failed")).json()
        feed = (await http.get(f"/recipients/{address}/notifications")).json()
    [item] = failed["items"]
    assert item["recipient_email"] == address, "the delivery still knows whom it failed"
    expected = (
        "550 5.1.1 <address>: Recipient address rejected: User unknown in virtual mailbox table"
    )
    assert item["last_error"] == expected
    assert item["permanent"] is True
    assert item["attempts"] == 1
    assert feed["items"][0]["reason"] == expected

    records = await read_topic(topic_prefix + NOTIFICATION_TOPIC, expect=2)
    events = {e.type: e for e in (decode(r.key, r.headers, r.value) for r in records)}
    failure = events["dk.kl.notifications.failed.v2"].data
    assert (failure["permanent"], failure["attempts"]) == (True, 1)
    assert (failure["smtp_code"], failure["enhanced_status"]) == (550, "5.1.1")
    assert failure["reason"] == expected
    stored = await pool.fetch("SELECT data::text AS data FROM events")
    everywhere = [r.value for r in records] + [r["data"].encode() for r in stored]
    assert not any(b"reject-anne" in raw for raw in everywhere), "no address in any event"


async def test_erasure_clears_a_server_answer_recorded_before_answers_were_redacted(
    service: NotificationsService, pool: asyncpg.Pool, publish: Publisher
) -> None:
    address = "reject-bodil@example.dk"
    ids = [
        await publish.event(scheduled()),
        await publish.event(confirmed("reg-1", participant("Bodil Afvist", address))),
    ]
    await processed(pool, *ids)
    await service.tick()
    # As an older version recorded it: the server's answer, address and all.
    old = f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
    await pool.execute("UPDATE deliveries SET last_error = $1", old)
    await pool.execute("UPDATE notification_feed SET reason = $1", old)
    person_id = await pool.fetchval("SELECT person_id FROM deliveries")

    async with pool.acquire() as conn, conn.transaction():
        await scrub_person(conn, person_id)

    delivery = await pool.fetchrow("SELECT status, last_error, permanent FROM deliveries")
    assert (delivery["status"], delivery["last_error"], delivery["permanent"]) == (
        "failed",
        None,
        True,
    ), "the status stays, the answer goes"
    feed = await pool.fetchrow("SELECT status, reason FROM notification_feed")
    assert (feed["status"], feed["reason"]) == ("failed", None)


async def test_two_workers_at_once_send_each_mail_exactly_once(
    service: NotificationsService, pool: asyncpg.Pool, publish: Publisher, smtp_sink: SmtpSink
) -> None:
    people = [participant(f"Deltager {n}", f"deltager{n}@aarhus.dk") for n in range(12)]
    ids = [await publish.event(scheduled())]
    ids += [await publish.event(confirmed(f"reg-{n}", p)) for n, p in enumerate(people)]
    await processed(pool, *ids)
    other = service.worker
    twin = DeliveryWorker(other.deliveries, other.mailer, other.composer, retry=other.retry)
    now = service.clock.now()
    counts = await asyncio.gather(other.deliver_due(now), twin.deliver_due(now))
    assert sum(counts) == 12
    recipients = sorted(r for m in smtp_sink.messages for r in m.rcpt_tos)
    assert recipients == sorted(str(p.email) for p in people)
