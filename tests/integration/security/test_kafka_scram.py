"""The services against a Kafka that asks for SASL/SCRAM (and SCRAM over TLS).

The broker is the local stack's second Kafka (``KAFKA_SECURITY=scram deploy/local/stack.sh
up kafka``), started for this module if it is not running and stopped again after it. Every
Kafka client of the services gets its security from ``KafkaSettings``: the topic set-up
(admin client), the outbox relay (producer) and the subscribers (FastStream consumers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from services.events.bootstrap import EventsService
from services.events.bootstrap import bootstrap as events_bootstrap
from services.events.config import Settings as EventsSettings
from services.events.service_layer.ports import MembershipStatus
from services.kernel.clock import ManualClock
from services.kernel.db import drop_database, ensure_database, with_database
from services.kernel.kafka import (
    KafkaAuthenticationError,
    KafkaSettings,
    KafkaTlsError,
    diagnose,
    ensure_topics,
)
from services.kernel.outbox import unpublished_count
from services.membership.bootstrap import Container
from services.membership.bootstrap import bootstrap as membership_bootstrap
from services.membership.config import Settings as MembershipSettings
from services.notifications.bootstrap import NotificationsService
from services.notifications.bootstrap import bootstrap as notifications_bootstrap
from services.notifications.config import Settings as NotificationsSettings
from services.operator.kafka_tools import delete_topics_with_prefix
from tests.support import auth
from tests.support.events import projection_caught_up
from tests.support.scram_broker import ScramBroker, scram_broker
from tests.support.stack import ADMIN_DSN
from tests.support.waiting import wait_until

CPH = ZoneInfo("Europe/Copenhagen")
AS_OF = datetime(2021, 11, 19, 10, 0, tzinfo=CPH)  # sign-up for 2022 is open
WRONG_PASSWORD = "not-the-password-0"


@pytest.fixture(scope="module")
def broker() -> Iterator[ScramBroker]:
    with scram_broker() as running:
        yield running


def settings_for(broker: ScramBroker, kind: Literal["scram", "tls"], prefix: str) -> KafkaSettings:
    base = broker.scram if kind == "scram" else broker.tls
    return base.model_copy(update={"topic_prefix": prefix})


@pytest.fixture
async def prefix(broker: ScramBroker, unique: str) -> AsyncIterator[str]:
    """A topic prefix of the test's own on the SCRAM broker; its topics deleted after."""
    yield f"t{unique}."
    await delete_topics_with_prefix(broker.scram, f"t{unique}.")


@pytest.fixture
async def more_dsns(unique: str) -> AsyncIterator[tuple[str, str]]:
    """Databases for the events and notifications services (fresh_dsn: membership's)."""
    dsns = (
        with_database(ADMIN_DSN, f"t_{unique}_events"),
        with_database(ADMIN_DSN, f"t_{unique}_notifications"),
    )
    for dsn in dsns:
        await ensure_database(dsn)
    try:
        yield dsns
    finally:
        for dsn in dsns:
            await drop_database(dsn)


class NoLookup:
    """The events service must learn of the membership from Kafka, not by asking."""

    async def status(self, network_slug: str, year: int, code: str) -> MembershipStatus | None:
        return None


@dataclass
class Membership:
    container: Container
    client: httpx.AsyncClient

    @property
    def pool(self) -> asyncpg.Pool:
        return self.container.runtime.pool


@pytest.fixture
async def membership_factory() -> AsyncIterator[list[Membership]]:
    started: list[Membership] = []
    yield started
    for service in started:
        await service.client.aclose()
        await service.container.stop()


async def start_membership(kafka: KafkaSettings, dsn: str, started: list[Membership]) -> Membership:
    app = membership_bootstrap(
        MembershipSettings(database_url=dsn, kafka=kafka, pool_size=5, auth=auth.SETTINGS),
        clock=ManualClock(AS_OF),
    )
    container: Container = app.state.container
    await container.start()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://membership.test",
        timeout=30,
        headers=auth.OPERATOR,
    )
    service = Membership(container, client)
    started.append(service)
    return service


@pytest.fixture
async def events_factory() -> AsyncIterator[list[EventsService | NotificationsService]]:
    started: list[EventsService | NotificationsService] = []
    yield started
    for service in started:
        await service.stop()


JOIN = {
    "municipality_code": "157",
    "year": 2022,
    "contact_name": "Mette Hansen",
    "contact_email": "mette.hansen@gentofte.dk",
    "ean": "5798000000001",
}

MEETING = {
    "slug": "knub-2022-1",
    "network_slug": "knub",
    "year": 2022,
    "title": "1. netværksmøde 2022",
    "description": "Boligsocial indsats",
    "starts_at": "2022-03-09T09:30:00",
    "ends_at": "2022-03-09T15:30:00",
    "venue_name": "KL-huset",
    "venue_address": "Weidekampsgade 10, 2300 København S",
    "seats": 40,
    "registration_deadline": "2022-03-01T12:00:00",
    "per_municipality_cap": None,
    "guest_price_dkk": None,
    "next_year_members_free": True,
}


@pytest.mark.parametrize("kind", ["scram", "tls"])
async def test_the_three_services_relay_and_consume_over_scram(
    kind: Literal["scram", "tls"],
    broker: ScramBroker,
    prefix: str,
    fresh_dsn: str,
    more_dsns: tuple[str, str],
    membership_factory: list[Membership],
    events_factory: list[EventsService | NotificationsService],
) -> None:
    kafka = settings_for(broker, kind, prefix)
    assert kafka.security_protocol == ("SASL_PLAINTEXT" if kind == "scram" else "SASL_SSL")
    membership = await start_membership(kafka, fresh_dsn, membership_factory)
    events = events_bootstrap(
        EventsSettings(database_url=more_dsns[0], kafka=kafka, pool_size=5, auth=auth.SETTINGS),
        clock=ManualClock(AS_OF),
        lookup=NoLookup(),
    )
    await events.start()
    events_factory.append(events)
    notifications = notifications_bootstrap(
        NotificationsSettings(
            database_url=more_dsns[1],
            kafka=kafka,
            consumer_group=f"{prefix}notifications",
            auth=auth.SETTINGS,
        ),
        clock=ManualClock(AS_OF),
        background=False,  # no mail is sent: Kafka is what is tested here
    )
    await notifications.start()
    events_factory.append(notifications)
    events_client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=events.app),
        base_url="http://events.test",
        timeout=30,
        headers=auth.OPERATOR,
    )
    notifications_client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=notifications.app),
        base_url="http://notifications.test",
        headers=auth.OPERATOR,
    )
    async with events_client, notifications_client:
        for client in (membership.client, events_client, notifications_client):
            readiness = await client.get("/readyz")
            assert readiness.status_code == 200, readiness.text
        await join_and_schedule(membership, events, events_client)
    await welcome_queued_and_relayed(notifications)


async def join_and_schedule(
    membership: Membership, events: EventsService, events_client: httpx.AsyncClient
) -> None:
    joined = await membership.client.post("/networks/knub/memberships", json=JOIN)
    assert joined.status_code == 201, joined.text

    async def relayed() -> bool:
        return await unpublished_count(membership.pool) == 0

    await wait_until(relayed, timeout=30, what="the membership outbox relayed over SCRAM")

    async def in_events_view() -> bool:
        status = await events.runtime.pool.fetchval(
            """SELECT status FROM membership_view
               WHERE network_slug = 'knub' AND year = 2022 AND municipality_code = '157'"""
        )
        return status == "active"

    await wait_until(in_events_view, timeout=30, what="MembershipJoined consumed by events")

    async def in_roster() -> bool:
        count = await membership.pool.fetchval(
            "SELECT count(*) FROM membership_roster WHERE municipality_code = '157'"
        )
        return count == 1

    await wait_until(in_roster, timeout=30, what="the membership's own roster subscriber")

    # The events service's relay and projection subscriber over the same security.
    created = await events_client.post("/meetings", json=MEETING)
    assert created.status_code == 201, created.text

    await wait_until(
        lambda: projection_caught_up(events),
        timeout=30,
        what="the meetings projection fed over SCRAM",
    )


async def test_a_client_with_a_wrong_password_is_refused_with_a_clear_error(
    broker: ScramBroker, prefix: str
) -> None:
    wrong = settings_for(broker, "scram", prefix).model_copy(
        update={"sasl_password": WRONG_PASSWORD}
    )
    assert await diagnose(settings_for(broker, "scram", prefix)) is None
    reason = await diagnose(wrong)
    assert isinstance(reason, KafkaAuthenticationError)
    assert "refused the SASL credentials (SCRAM-SHA-512)" in str(reason)
    with pytest.raises(KafkaAuthenticationError, match="refused the SASL credentials") as caught:
        await ensure_topics(wrong, {"security.refused": 1}, timeout=5)
    assert WRONG_PASSWORD not in str(caught.value)
    # SCRAM-SHA-256 is enabled too and the user has credentials for it.
    sha256 = settings_for(broker, "scram", prefix).model_copy(
        update={"sasl_mechanism": "SCRAM-SHA-256"}
    )
    assert await diagnose(sha256) is None


async def test_a_client_that_does_not_trust_the_brokers_ca_gets_a_tls_error(
    broker: ScramBroker, prefix: str
) -> None:
    untrusting = settings_for(broker, "tls", prefix).model_copy(update={"ssl_cafile": None})
    assert await diagnose(settings_for(broker, "tls", prefix)) is None
    reason = await diagnose(untrusting)
    assert isinstance(reason, KafkaTlsError), reason
    assert "CERTIFICATE_VERIFY_FAILED" in str(reason)


async def test_a_service_with_a_wrong_password_runs_and_reports_kafka_not_ready(
    broker: ScramBroker,
    prefix: str,
    fresh_dsn: str,
    membership_factory: list[Membership],
) -> None:
    wrong = settings_for(broker, "scram", prefix).model_copy(
        update={"sasl_password": WRONG_PASSWORD}
    )
    membership = await start_membership(wrong, fresh_dsn, membership_factory)

    readiness = await membership.client.get("/readyz")
    assert readiness.status_code == 503, readiness.text
    assert readiness.json()["failing"] == {"kafka": "KafkaAuthenticationError"}
    assert WRONG_PASSWORD not in readiness.text
    assert (await membership.client.get("/healthz")).status_code == 200
    assert isinstance(membership.container.runtime.kafka_error, KafkaAuthenticationError)

    # Commands still work: the event waits in the outbox until Kafka lets the relay in.
    joined = await membership.client.post("/networks/knub/memberships", json=JOIN)
    assert joined.status_code == 201, joined.text
    assert await unpublished_count(membership.pool) >= 1


async def welcome_queued_and_relayed(notifications: NotificationsService) -> None:
    """The notifications service consumed the join and published its own event over SCRAM."""
    pool = notifications.runtime.pool

    async def relayed() -> bool:
        queued = await pool.fetchval("SELECT count(*) FROM events")
        return bool(queued) and await unpublished_count(pool) == 0

    await wait_until(relayed, timeout=30, what="a notification queued and relayed over SCRAM")
