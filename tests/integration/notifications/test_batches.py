"""Source events applied in batches: an erasure in the middle of one, and the work of one
registration event, which must not grow with the size of its meeting."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from icalendar import Calendar

from services.kernel.privacy import ERASED
from services.notifications.bootstrap import NotificationsService
from services.notifications.entrypoints.subscribers import build_subscription
from tests.integration.notifications.builders import (
    ANNE,
    BO,
    Publisher,
    cancelled_by_operator,
    cancelled_by_participant,
    confirmed,
    erased,
    participant,
    scheduled,
    waitlisted,
)
from tests.integration.notifications.conftest import processed
from tests.support.notifications_smtp_sink import SmtpSink
from tests.support.privacy_scan import found_in, scan_database

ERIK = participant("Erik Slettesen-Glemt", "erik.slettesen@aalborg.dk", "851")
ERIK_SECRETS = ["erik slettesen-glemt", "erik.slettesen@aalborg.dk", "erik.slettesen"]


async def test_an_erasure_in_the_middle_of_a_batch_mails_nobody_erased_and_keeps_no_name(
    service: NotificationsService,
    pool: asyncpg.Pool,
    publish: Publisher,
    smtp_sink: SmtpSink,
    fresh_dsn: str,
) -> None:
    ids = [await publish.event(scheduled()), await publish.event(confirmed("reg-1", ERIK))]
    await processed(pool, *ids)  # the service's vault has Erik's key in its cache now
    erik_id = await pool.fetchval(
        "SELECT person_id FROM registrations WHERE registration_id = 'reg-1'"
    )
    # One batch, in this order, the events sealed as they were before the erasure:
    batch = [
        await publish.record(confirmed("reg-2", ERIK), offset=0),  # queued, then scrubbed
        await publish.record(confirmed("reg-3", ANNE), offset=1),
        await publish.record(erased(erik_id), offset=2),
        await publish.record(cancelled_by_operator("reg-1", ERIK), offset=3),  # after: erased
        await publish.record(waitlisted("reg-4", BO, 1), offset=4),
    ]
    assert await publish.vault.erase(erik_id, "request")  # the events service erased him
    subscription = service.runtime.subscriptions[0]
    await subscription.handle_records(service.runtime.broker, batch)  # applied when it returns

    await service.tick()
    assert smtp_sink.to(ERIK.email) == [], "nobody erased is mailed"
    assert [m.subject.split(":")[0] for m in smtp_sink.to(str(ANNE.email))] == [
        "Tilmelding bekræftet"
    ]
    assert len(smtp_sink.to(str(BO.email))) == 1
    [note] = smtp_sink.to("netvaerk@kl.dk")  # the organiser hears of the cancellation ...
    plain = note.message.get_body(("plain",))
    assert plain is not None
    assert ERASED in plain.get_content()  # ... of an erased participant, by no name
    for mail in smtp_sink.messages:
        assert found_in(mail.raw.decode("utf-8", "replace"), ERIK_SECRETS) == []
        for part in mail.message.walk():
            if not part.is_multipart():
                text = part.get_payload(decode=True).decode("utf-8", "replace")
                assert found_in(text, ERIK_SECRETS) == []
    assert await scan_database(fresh_dsn, ERIK_SECRETS) == [], "his name is nowhere"
    erik_rows = await pool.fetch(
        "SELECT status, last_error FROM deliveries WHERE person_id = $1", erik_id
    )
    assert [tuple(r) for r in erik_rows] == [("failed", "erased")] * 2, (
        "what was queued for him before the erasure (reg-1, reg-2) is never sent"
    )


class CountingConnection:
    """A connection that counts the rows each table's SELECTs return (tables of the view)."""

    TABLES = ("registrations", "meetings")

    def __init__(self, conn: asyncpg.Connection, rows: Counter[str]) -> None:
        self._conn = conn
        self.rows = rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._conn.fetch(query, *args, **kwargs)
        self._count(query, len(rows))
        return rows

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._conn.fetchrow(query, *args, **kwargs)
        self._count(query, 0 if row is None else 1)
        return row

    def _count(self, query: str, n: int) -> None:
        for table in self.TABLES:
            if re.search(rf"\bFROM\s+{table}\b", query, re.IGNORECASE):
                self.rows[table] += n


class CountingPool:
    """The service's pool, handing out counting connections."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.rows: Counter[str] = Counter()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[CountingConnection]:
        async with self.pool.acquire() as conn:
            yield CountingConnection(conn, self.rows)


async def test_one_registration_event_reads_one_registration_however_big_the_meeting(
    service: NotificationsService,
    pool: asyncpg.Pool,
    publish: Publisher,
    smtp_sink: SmtpSink,
    unique: str,
) -> None:
    people = [participant(f"Deltager {n}", f"deltager{n}@aarhus.dk") for n in range(40)]
    ids = [await publish.event(scheduled())]
    ids += [await publish.event(confirmed(f"reg-{n}", p)) for n, p in enumerate(people)]
    await processed(pool, *ids)
    assert await pool.fetchval("SELECT count(*) FROM registrations") == 40

    counting = CountingPool(pool)
    subscription = build_subscription(
        service.notifier,
        service.notifier.stores,  # type: ignore[arg-type]
        name=f"counting-{unique}",
        pool=lambda: counting,  # type: ignore[arg-type,return-value]
        kafka=service.settings.kafka,
    )
    record = await publish.record(cancelled_by_participant("reg-7", people[7]))
    await subscription.handle_records(service.runtime.broker, [record])

    assert counting.rows["registrations"] == 1, counting.rows
    assert counting.rows["meetings"] == 1, counting.rows
    # ... and it is the right one: the cancellation replaces the invitation sent for it.
    await service.tick()
    [cancel] = [m for m in smtp_sink.to("deltager7@aarhus.dk") if m.subject.startswith("Afmeld")]
    [ics] = [p for p in cancel.message.walk() if p.get_content_type() == "text/calendar"]
    [event] = Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")
    assert (str(event["UID"]), int(event["SEQUENCE"])) == ("reg-7@netvaerk.kl.dk", 1)
