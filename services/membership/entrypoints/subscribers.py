"""The service's own subscription to its membership topic, feeding the roster read model."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from contracts import membership as cm
from contracts.base import registry
from contracts.privacy import PRIVACY_TOPIC, PersonErased
from services.kernel.kafka import KafkaSettings
from services.kernel.privacy import Vault
from services.kernel.subscriber import InboundEvent, Subscription
from services.membership.adapters import roster
from services.membership.adapters.translation import membership_event

ROSTER_CONSUMER = "membership-roster"
PRIVACY_CONSUMER = "membership-privacy"


async def apply_to_roster(conn: asyncpg.Connection, event: InboundEvent) -> None:
    domain_event = membership_event(event.payload)
    if domain_event is not None:
        await roster.apply(conn, domain_event)


def roster_subscription(pool: Callable[[], asyncpg.Pool], kafka: KafkaSettings) -> Subscription:
    """One consumer group for all instances (per topic prefix, so test runs stay apart)."""
    return Subscription(
        name=f"{kafka.topic_prefix}{ROSTER_CONSUMER}",
        topics=[cm.MEMBERSHIP_TOPIC],
        handlers={
            cm.MembershipJoined: apply_to_roster,
            cm.MembershipRenewed: apply_to_roster,
            cm.MembershipCancelled: apply_to_roster,
        },
        registry=registry,
        pool=pool,
        kafka=kafka,
    )


def privacy_subscription(
    pool: Callable[[], asyncpg.Pool], kafka: KafkaSettings, vault: Vault
) -> Subscription:
    """Erasures: the roster holds no personal data, but this process may hold the person's
    key in its cache; it forgets it at once (the sealed contact in the event store is
    unreadable from then on)."""

    async def on_erased(_: asyncpg.Connection, event: InboundEvent) -> None:
        payload = event.payload
        assert isinstance(payload, PersonErased)
        vault.forget(payload.person_id)

    return Subscription(
        name=f"{kafka.topic_prefix}{PRIVACY_CONSUMER}",
        topics=[PRIVACY_TOPIC],
        handlers={PersonErased: on_erased},
        registry=registry,
        pool=pool,
        kafka=kafka,
    )
