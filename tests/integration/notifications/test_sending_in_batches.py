"""The delivery worker sends in batches over SMTP connections it keeps open, and wakes as
soon as mail is queued."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from contracts.notifications import NotificationFailed, NotificationSent
from services.kernel.clock import ManualClock
from services.notifications.adapters.email import MimeComposer
from services.notifications.bootstrap import NotificationsService, bootstrap
from services.notifications.config import Settings
from services.notifications.service_layer.delivery import DeliveryWorker
from services.notifications.service_layer.ports import Mailer, OutgoingMail
from tests.integration.notifications.builders import Publisher, confirmed, participant, scheduled
from tests.integration.notifications.conftest import processed
from tests.support.notifications_smtp_sink import SmtpSink
from tests.support.waiting import wait_until


async def registered(publish: Publisher, pool: asyncpg.Pool, *locals_: str) -> list[str]:
    """A meeting and a confirmed registration for each local part; their addresses."""
    people = [participant(f"Deltager {n}", f"{local}@aarhus.dk") for n, local in enumerate(locals_)]
    ids = [await publish.event(scheduled())]
    ids += [await publish.event(confirmed(f"reg-{p.email}", p)) for p in people]
    await processed(pool, *ids)
    return [str(p.email) for p in people]


async def test_many_mails_travel_over_few_connections(
    service: NotificationsService, pool: asyncpg.Pool, publish: Publisher, smtp_sink: SmtpSink
) -> None:
    addresses = await registered(publish, pool, *(f"deltager{n}" for n in range(60)))
    assert service.worker.batch_size < 60
    assert await service.tick() == (0, 60)

    assert sorted(r for m in smtp_sink.messages for r in m.rcpt_tos) == sorted(addresses)
    assert len({m.message["Message-ID"] for m in smtp_sink.messages}) == 60
    senders = service.settings.delivery_senders
    assert smtp_sink.connections <= senders, "one connection per sender, kept open"
    statuses = await pool.fetch("SELECT status, attempts FROM deliveries")
    assert {tuple(r) for r in statuses} == {("sent", 1)}
    sent = await pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = $1", NotificationSent.type_name()
    )
    assert sent == 60
    assert await pool.fetchval("SELECT count(*) FROM notification_feed WHERE status = 'sent'") == 60


async def test_connections_the_server_dropped_while_idle_are_replaced(
    service: NotificationsService,
    pool: asyncpg.Pool,
    publish: Publisher,
    smtp_sink: SmtpSink,
) -> None:
    await registered(publish, pool, "first", "second")
    await service.tick()
    assert len(smtp_sink.messages) == 2
    assert smtp_sink.drop_connections() >= 1  # e.g. the server restarted

    await registered(publish, pool, *(f"later{n}" for n in range(5)))
    await service.tick()
    assert len(smtp_sink.messages) == 7, "each mail once"
    statuses = await pool.fetch("SELECT status, attempts FROM deliveries")
    assert {tuple(r) for r in statuses} == {("sent", 1)}, "no retry was needed"


async def test_a_connection_closed_with_421_just_before_use_is_retried_at_once_on_a_new_one(
    service: NotificationsService,
    pool: asyncpg.Pool,
    publish: Publisher,
    smtp_sink: SmtpSink,
) -> None:
    await registered(publish, pool, "first")
    await service.tick()
    opened = smtp_sink.connections
    smtp_sink.close_on_next_mails = 1  # the kept connection timed out on the server's side

    await registered(publish, pool, "second")
    assert await service.tick() == (0, 1)
    assert len(smtp_sink.to("second@aarhus.dk")) == 1
    assert smtp_sink.connections == opened + 1
    row = await pool.fetchrow(
        "SELECT status, attempts, last_error FROM deliveries"
        " WHERE recipient_email = 'second@aarhus.dk'"
    )
    assert tuple(row) == ("sent", 1, None), "nothing of it had reached the server: no retry"


async def test_a_refusal_in_the_middle_of_a_batch_is_recorded_for_that_mail_only(
    service: NotificationsService,
    pool: asyncpg.Pool,
    publish: Publisher,
    smtp_sink: SmtpSink,
    clock: ManualClock,
) -> None:
    await registered(publish, pool, "a", "b", "busy-c", "d", "reject-e", "f")
    assert await service.tick() == (0, 6)

    rows = {
        r["recipient_email"].split("@")[0]: r
        for r in await pool.fetch(
            "SELECT recipient_email, status, attempts, last_error, permanent, next_attempt_at"
            " FROM deliveries"
        )
    }
    assert {k: r["status"] for k, r in rows.items()} == {
        "a": "sent",
        "b": "sent",
        "busy-c": "queued",
        "d": "sent",
        "reject-e": "failed",
        "f": "sent",
    }
    busy, rejected = rows["busy-c"], rows["reject-e"]
    assert (busy["attempts"], busy["last_error"][:3]) == (1, "451")
    assert busy["next_attempt_at"] == clock.now() + timedelta(minutes=1)
    assert (rejected["attempts"], rejected["last_error"][:3], rejected["permanent"]) == (
        1,
        "550",
        True,
    )
    assert sorted(r for m in smtp_sink.messages for r in m.rcpt_tos) == [
        f"{x}@aarhus.dk" for x in "abdf"
    ]
    types = [
        r[0]
        for r in await pool.fetch(
            "SELECT event_type FROM events WHERE event_type = ANY($1::text[])",
            [NotificationSent.type_name(), NotificationFailed.type_name()],
        )
    ]
    assert sorted(types) == sorted(
        [NotificationSent.type_name()] * 4 + [NotificationFailed.type_name()]
    )
    feed = dict(
        (r["recipient_email"].split("@")[0], r["status"])
        for r in await pool.fetch("SELECT recipient_email, status FROM notification_feed")
    )
    assert feed["busy-c"] == "queued"
    assert feed["reject-e"] == "failed"
    assert smtp_sink.connections <= service.settings.delivery_senders, (
        "a refusal resets the connection (RSET) and keeps it"
    )


class DatabaseGoesAwayMailer:
    """Sends for real, then ends the worker's transaction (the database 'went away') once
    the server has accepted the batch's first mail."""

    def __init__(self, inner: Mailer, pool: asyncpg.Pool) -> None:
        self.inner = inner
        self.pool = pool
        self.armed = True

    async def send(self, mail: OutgoingMail) -> None:
        await self.inner.send(mail)
        if self.armed:
            self.armed = False
            await self.pool.fetchval(
                """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                   WHERE datname = current_database() AND state = 'idle in transaction'"""
            )

    async def close(self) -> None:
        await self.inner.close()


async def test_mail_accepted_before_the_database_went_away_is_recorded_not_sent_again(
    settings: Settings,
    clock: ManualClock,
    pool: asyncpg.Pool,
    service: NotificationsService,
    publish: Publisher,
    smtp_sink: SmtpSink,
) -> None:
    await registered(publish, pool, "one", "two", "three")
    mailer = DatabaseGoesAwayMailer(service.worker.mailer, pool)
    worker = DeliveryWorker(
        service.worker.deliveries, mailer, MimeComposer(settings.sender), senders=1
    )
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
        await worker.deliver_due(clock.now())  # sent all three, could not record them
    assert len(smtp_sink.messages) == 3
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'queued'") == 3

    assert await worker.deliver_due(clock.now()) == 3
    assert len(smtp_sink.messages) == 3, "recorded as sent, not mailed again"
    statuses = await pool.fetch("SELECT status, attempts FROM deliveries")
    assert {tuple(r) for r in statuses} == {("sent", 1)}


@pytest.fixture
async def woken(settings: Settings, clock: ManualClock) -> AsyncIterator[NotificationsService]:
    """The service with its background loop, polling only once a minute."""
    svc = bootstrap(
        settings.model_copy(update={"poll_interval_seconds": 60.0}), clock=clock, background=True
    )
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


async def test_queued_mail_wakes_the_worker_at_once_instead_of_at_the_next_poll(
    woken: NotificationsService, publish: Publisher, smtp_sink: SmtpSink
) -> None:
    await publish.event(scheduled())
    await publish.event(confirmed("reg-1"))

    async def arrived() -> bool:
        return bool(smtp_sink.to("anne.jensen@aarhus.dk"))

    # The poll is a minute away; the queueing transaction's NOTIFY wakes the worker.
    await wait_until(arrived, timeout=10, what="the mail, long before the next poll")
