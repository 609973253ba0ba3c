"""The service's subscription to the lists, the invitations and the meetings topic, feeding
the outreach's read models (one consumer group shared by all instances)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg

from contracts import outreach as wo
from contracts.base import EventPayload
from contracts.catalog import registry
from contracts.meetings import MEETING_TOPIC
from services.kernel.kafka import KafkaSettings
from services.kernel.subscriber import InboundEvent, Subscription, one_by_one
from services.membership.adapters.outreach_rebuild import GUARD
from services.membership.adapters.outreach_translation import MEETING_PAYLOADS
from services.membership.adapters.outreach_views import Consumed, apply

OUTREACH_CONSUMER = "membership-outreach"

HANDLED: tuple[type[EventPayload], ...] = (
    wo.AreaListPublished,
    wo.MunicipalityInvited,
    wo.InvitationReminded,
    *MEETING_PAYLOADS,
)


def consumed(event: InboundEvent) -> Consumed:
    return Consumed(event.envelope.id, event.payload, event.partition, event.offset)


def outreach_subscription(
    pool: Callable[[], asyncpg.Pool], kafka: KafkaSettings, batch_size: int = 200
) -> Subscription:
    """In batches (one transaction and one offset commit each): a rush of registrations
    on the meetings topic costs the outreach a few statements per batch."""

    async def on_events(conn: asyncpg.Connection, events: Sequence[InboundEvent]) -> None:
        await apply(conn, [consumed(e) for e in events])

    return Subscription(
        name=f"{kafka.topic_prefix}{OUTREACH_CONSUMER}",
        topics=[wo.AREA_LIST_TOPIC, wo.INVITATION_TOPIC, MEETING_TOPIC],
        handlers=one_by_one(HANDLED, on_events),
        registry=registry,
        pool=pool,
        kafka=kafka,
        batch_size=batch_size,
        batch_handler=on_events,
        guard=GUARD,
    )
