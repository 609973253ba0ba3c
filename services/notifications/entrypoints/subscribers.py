"""The subscription to membership and meeting events (one consumer group)."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from contracts import membership as wire_membership
from contracts.base import EventPayload
from contracts.catalog import registry
from contracts.meetings import MEETING_TOPIC
from contracts.membership import MEMBERSHIP_TOPIC, NETWORK_TOPIC
from contracts.privacy import PRIVACY_TOPIC, PersonErased
from services.kernel.kafka import KafkaSettings
from services.kernel.privacy import SealError, Vault
from services.kernel.subscriber import Handler, InboundEvent, PoisonMessageError, Subscription
from services.notifications.adapters import postgres as db
from services.notifications.adapters.translate import (
    MEETING_PAYLOADS,
    REGISTRATION_PAYLOADS,
    meeting_event,
    membership_started,
)
from services.notifications.domain.decisions import UnknownMeetingError
from services.notifications.service_layer.notifying import Notifier

TOPICS = (MEETING_TOPIC, MEMBERSHIP_TOPIC, NETWORK_TOPIC, PRIVACY_TOPIC)


def build_subscription(
    notifier: Notifier,
    *,
    name: str,
    pool: Callable[[], asyncpg.Pool],
    kafka: KafkaSettings,
    vault: Vault,
) -> Subscription:
    """Handlers for the events that lead to notifications; others are recorded and ignored.

    A registration's sealed participant is opened here, at the edge; an erased person's
    cannot be opened and reaches the domain as the erased marker (and is never mailed).
    """

    async def on_meeting_event(conn: asyncpg.Connection, event: InboundEvent) -> None:
        payload = event.payload
        person = None
        if isinstance(payload, REGISTRATION_PAYLOADS):
            p = payload.participant
            try:
                person = await vault.open(p.person_id, p.sealed)
            except SealError as exc:
                raise PoisonMessageError("the sealed participant does not open") from exc
        try:
            await notifier.apply_meeting_event(
                conn, meeting_event(payload, person), str(event.envelope.id)
            )
        except UnknownMeetingError as exc:
            raise PoisonMessageError(f"meeting {exc} was never scheduled") from exc

    async def on_membership_started(conn: asyncpg.Connection, event: InboundEvent) -> None:
        payload = event.payload
        assert isinstance(
            payload, wire_membership.MembershipJoined | wire_membership.MembershipRenewed
        )
        name = await db.network_name(conn, payload.network_slug)
        try:
            contact = await vault.open(payload.contact_person_id, payload.contact_sealed)
        except SealError as exc:
            raise PoisonMessageError("the sealed contact does not open") from exc
        await notifier.apply_membership_started(
            conn, membership_started(payload, name, contact), str(event.envelope.id)
        )

    async def on_network_created(conn: asyncpg.Connection, event: InboundEvent) -> None:
        payload = event.payload
        assert isinstance(payload, wire_membership.NetworkCreated)
        await db.save_network(conn, payload.slug, payload.name)

    handlers: dict[type[EventPayload], Handler] = {m: on_meeting_event for m in MEETING_PAYLOADS}
    handlers[wire_membership.MembershipJoined] = on_membership_started
    handlers[wire_membership.MembershipRenewed] = on_membership_started
    handlers[wire_membership.NetworkCreated] = on_network_created

    async def on_person_erased(conn: asyncpg.Connection, event: InboundEvent) -> None:
        payload = event.payload
        assert isinstance(payload, PersonErased)
        vault.forget(payload.person_id)
        await db.scrub_person(conn, payload.person_id)

    handlers[PersonErased] = on_person_erased
    return Subscription(
        name=name, topics=TOPICS, handlers=handlers, registry=registry, pool=pool, kafka=kafka
    )
