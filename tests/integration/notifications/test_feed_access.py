"""Whose feed a participant may read: the same comparison of addresses as tokens and vault.

``straße@…`` and ``strasse@…`` are two mailboxes of two people. Case folding would make
them one (``"ß".casefold() == "ss"``), so a participant signed in as one could read the
other's mail. Addresses are compared in lower case only (services/kernel/emails.py).
"""

from __future__ import annotations

from urllib.parse import quote

import asyncpg
import httpx

from services.notifications.bootstrap import NotificationsService
from tests.integration.notifications.builders import (
    Publisher,
    confirmed,
    participant,
    scheduled,
)
from tests.integration.notifications.conftest import processed
from tests.support import auth

STRASSE = "strasse@aarhus.dk"
STRASSE_SHARP_S = "straße@aarhus.dk"


def as_participant(service: NotificationsService, email: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app),
        base_url="http://t",
        headers=auth.headers("participant", "751", email),
    )


def feed(email: str) -> str:
    return f"/recipients/{quote(email)}/notifications"


async def test_strasse_with_a_sharp_s_cannot_read_strasse_s_feed(
    service: NotificationsService, pool: asyncpg.Pool, publish: Publisher
) -> None:
    ids = [
        await publish.event(scheduled()),
        await publish.event(confirmed("reg-1", participant("Stine Strasse", STRASSE))),
    ]
    await processed(pool, *ids)

    async with as_participant(service, STRASSE_SHARP_S) as other:
        refused = await other.get(feed(STRASSE))
        assert refused.status_code == 403, refused.text
        own = await other.get(feed(STRASSE_SHARP_S))
        assert own.status_code == 200
        assert own.json()["total"] == 0, "nothing was ever sent to straße@"

    async with as_participant(service, "Strasse@Aarhus.DK") as herself:
        mine = await herself.get(feed(" STRASSE@aarhus.dk".strip()))
        assert mine.status_code == 200, mine.text
        assert [i["registration_id"] for i in mine.json()["items"]] == ["reg-1"]
