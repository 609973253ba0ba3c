"""The feed can be rebuilt from the event store; a refused connection is worth a retry."""

from __future__ import annotations

import asyncpg
import pytest

from services.notifications.adapters.feed import rebuild_feed
from services.notifications.adapters.smtp import SmtpMailer
from services.notifications.bootstrap import NotificationsService
from services.notifications.service_layer.ports import OutgoingMail, TemporaryDeliveryError
from tests.integration.notifications.builders import BO, Publisher, confirmed, scheduled, waitlisted
from tests.integration.notifications.conftest import processed
from tests.support.ports import free_port


async def test_the_feed_rebuilt_from_the_event_store_equals_the_live_one(
    service: NotificationsService, pool: asyncpg.Pool, publish: Publisher
) -> None:
    ids = [
        await publish.event(scheduled()),
        await publish.event(confirmed("reg-1")),
        await publish.event(waitlisted("reg-2", BO, 1)),
    ]
    await processed(pool, *ids)
    await service.tick()
    query = "SELECT * FROM notification_feed ORDER BY notification_id"
    live = [dict(r) for r in await pool.fetch(query)]
    assert [r["status"] for r in live] == ["sent", "sent"]
    await pool.execute("UPDATE notification_feed SET status = 'queued', attempts = 0")

    seen: list[tuple[int, int]] = []
    rebuilt = await rebuild_feed(
        pool, service.notifier.vault, lambda done, total: seen.append((done, total))
    )
    assert rebuilt == 4
    assert [dict(r) for r in await pool.fetch(query)] == live
    assert seen[-1] == (4, 4)


async def test_a_refused_connection_is_a_temporary_failure() -> None:
    port = free_port()  # nothing listens here
    mail = OutgoingMail(
        "noreply@netvaerk.kl.dk", "anne.jensen@aarhus.dk", b"Subject: hej\r\n\r\nhej"
    )
    with pytest.raises(TemporaryDeliveryError):
        await SmtpMailer("127.0.0.1", port, timeout=2).send(mail)
