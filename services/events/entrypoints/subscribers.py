"""Kafka subscriptions of the events service: its membership view and its projections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import asyncpg

from contracts import meetings as meetings_wire
from contracts import membership as membership_wire
from contracts import privacy as privacy_wire
from contracts.catalog import registry
from services.events.adapters import membership_view
from services.events.adapters.projections import participants, writer
from services.events.adapters.projections.migrations import READ_MODELS_GUARD
from services.events.adapters.projections.queries import ReadModelEnds
from services.events.service_layer.retention import hold_participants
from services.kernel.kafka import KafkaSettings
from services.kernel.privacy import Vault
from services.kernel.subscriber import InboundEvent, Subscription, one_by_one

MEMBERSHIP_VIEW_CONSUMER = "events-membership-view"
PROJECTIONS_CONSUMER = "events-projections"
PRIVACY_CONSUMER = "events-privacy"
"""Consumer group names (prefixed with the topic prefix), also the dedup keys."""


def membership_view_subscription(
    pool: Callable[[], asyncpg.Pool], kafka: KafkaSettings
) -> Subscription:
    """Memberships (and network names) into the service's own view, for prices and access.

    Its positions are tracked: a registration may take a "not a member" from the view once
    the view is shown to hold the whole topic (:mod:`services.kernel.freshness`)."""
    return Subscription(
        name=kafka.topic_prefix + MEMBERSHIP_VIEW_CONSUMER,
        topics=[membership_wire.MEMBERSHIP_TOPIC, membership_wire.NETWORK_TOPIC],
        handlers={
            membership_wire.MembershipJoined: membership_view.on_joined,
            membership_wire.MembershipRenewed: membership_view.on_joined,
            membership_wire.MembershipCancelled: membership_view.on_cancelled,
            membership_wire.NetworkCreated: membership_view.on_network_created,
        },
        registry=registry,
        pool=pool,
        kafka=kafka,
        track_positions=True,
    )


def projections_subscription(
    pool: Callable[[], asyncpg.Pool],
    kafka: KafkaSettings,
    vault: Vault,
    retention: timedelta | None = None,
) -> Subscription:
    """Meetings events into the read models (availability, participants, upcoming); with
    ``retention``, the participants' retention holds in the vault too."""

    async def on_events(conn: asyncpg.Connection, events: Sequence[InboundEvent]) -> None:
        data = [(event.envelope.type, event.envelope.data) for event in events]
        await writer.apply_many(conn, data, vault=vault)
        if retention is not None:
            registered, moved = writer.registered_and_moved(data)
            await hold_participants(
                vault.retention, ReadModelEnds(conn), retention, registered, moved
            )

    handled = [
        model
        for model in registry.types().values()
        if model.topic == meetings_wire.MEETING_TOPIC and not model.retired
    ]
    return Subscription(
        name=kafka.topic_prefix + PROJECTIONS_CONSUMER,
        topics=[meetings_wire.MEETING_TOPIC],
        handlers=one_by_one(handled, on_events),
        registry=registry,
        pool=pool,
        kafka=kafka,
        # A rush appends thousands of events a second: one transaction and one offset
        # commit per batch, not per event, keeps the availability current.
        batch_size=500,
        batch_handler=on_events,
        guard=READ_MODELS_GUARD,
    )


def privacy_subscription(
    pool: Callable[[], asyncpg.Pool], kafka: KafkaSettings, vault: Vault
) -> Subscription:
    """Erasures: forget the person's cached key, scrub the participant list."""

    async def on_erased(conn: asyncpg.Connection, event: InboundEvent) -> None:
        payload = event.payload
        assert isinstance(payload, privacy_wire.PersonErased)
        vault.forget(payload.person_id)
        await participants.scrub_person(conn, payload.person_id)

    return Subscription(
        name=kafka.topic_prefix + PRIVACY_CONSUMER,
        topics=[privacy_wire.PRIVACY_TOPIC],
        handlers={privacy_wire.PersonErased: on_erased},
        registry=registry,
        pool=pool,
        kafka=kafka,
        guard=READ_MODELS_GUARD,
    )
