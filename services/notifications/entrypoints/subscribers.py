"""The subscription to membership, meeting, network and privacy events (one consumer group).

Consumed in batches (``batch_size`` records, one transaction and one offset commit each):
the wire payloads become what :meth:`Notifier.apply` takes, in order; the notifier opens
the sealed persons, decides and queues for the whole batch. If a batch fails, the kernel
applies its events one by one (each a batch of one), so only a poison event goes to the
dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg

from contracts import membership as wire_membership
from contracts.base import EventPayload
from contracts.catalog import registry
from contracts.meetings import MEETING_TOPIC
from contracts.membership import MEMBERSHIP_TOPIC, NETWORK_TOPIC
from contracts.outreach import INVITATION_TOPIC
from contracts.privacy import PRIVACY_TOPIC, PersonErased
from services.kernel.kafka import KafkaSettings
from services.kernel.subscriber import (
    InboundEvent,
    PoisonMessageError,
    Subscription,
    one_by_one,
)
from services.notifications.adapters.meeting_seats import PostgresSeats
from services.notifications.adapters.store import PostgresNotificationStores
from services.notifications.adapters.translation import (
    MEETING_PAYLOADS,
    REGISTRATION_PAYLOADS,
    meeting_event,
    membership_started,
)
from services.notifications.domain.decisions import UnknownMeetingError
from services.notifications.entrypoints.invitations import OUTREACH_ONLY, outreach_items
from services.notifications.service_layer.handlers import (
    Erasure,
    Inbound,
    NetworkNamed,
    Notifier,
    SourceEvent,
    UnreadableEventError,
)
from services.notifications.service_layer.invitations import Inviter

TOPICS = (MEETING_TOPIC, MEMBERSHIP_TOPIC, NETWORK_TOPIC, PRIVACY_TOPIC, INVITATION_TOPIC)

MEMBERSHIP_STARTED = (wire_membership.MembershipJoined, wire_membership.MembershipRenewed)
HANDLED: tuple[type[EventPayload], ...] = (
    *MEETING_PAYLOADS,
    *MEMBERSHIP_STARTED,
    wire_membership.NetworkCreated,
    PersonErased,
    *OUTREACH_ONLY,
)


def build_subscription(
    notifier: Notifier,
    stores: PostgresNotificationStores,
    *,
    name: str,
    pool: Callable[[], asyncpg.Pool],
    kafka: KafkaSettings,
    batch_size: int = 200,
    inviter: Inviter | None = None,
) -> Subscription:
    """Handlers for the events that lead to notifications; others are recorded and ignored.

    A registration's sealed participant (a membership's contact) is opened by the notifier
    when it applies the event; an erased person's cannot be opened and reaches the domain
    as the erased marker (and is never mailed).
    """

    async def on_events(conn: asyncpg.Connection, events: Sequence[InboundEvent]) -> None:
        store = stores.on(conn)
        notified = [inbound(e) for e in events if not isinstance(e.payload, OUTREACH_ONLY)]
        try:
            await notifier.apply(store, notified)
            if inviter is not None:  # after the rest: the batch's registrations and erasures
                await inviter.apply(store, PostgresSeats(conn), *outreach_items(events))
        except UnknownMeetingError as exc:
            raise PoisonMessageError(f"meeting {exc} was never scheduled") from exc
        except UnreadableEventError as exc:
            raise PoisonMessageError("the sealed participant or contact does not open") from exc

    return Subscription(
        name=name,
        topics=TOPICS,
        handlers=one_by_one(HANDLED, on_events),
        registry=registry,
        pool=pool,
        kafka=kafka,
        # A rush confirms hundreds of registrations a second: one transaction and one
        # offset commit per batch, and the batch's work done in bulk, keeps the mail pace.
        batch_size=batch_size,
        batch_handler=on_events,
    )


def inbound(event: InboundEvent) -> Inbound:
    """A consumed event as the notifier takes it (the wire stays at this edge)."""
    payload = event.payload
    event_id, correlation_id = str(event.envelope.id), event.envelope.correlation_id
    if isinstance(payload, PersonErased):
        return Erasure(payload.person_id)
    if isinstance(payload, wire_membership.NetworkCreated):
        return NetworkNamed(payload.slug, payload.name)
    if isinstance(payload, MEMBERSHIP_STARTED):
        started = payload
        return SourceEvent(
            event_id,
            lambda opened: membership_started(started, None, opened[0]),
            sealed=((started.contact_person_id, started.contact_sealed),),
            correlation_id=correlation_id,
        )
    if isinstance(payload, REGISTRATION_PAYLOADS):
        registration = payload
        participant = registration.participant
        return SourceEvent(
            event_id,
            lambda opened: meeting_event(registration, opened[0]),
            sealed=((participant.person_id, participant.sealed),),
            correlation_id=correlation_id,
        )
    if isinstance(payload, MEETING_PAYLOADS):
        meeting = payload
        return SourceEvent(
            event_id, lambda _: meeting_event(meeting), correlation_id=correlation_id
        )
    raise TypeError(f"no handler for {type(payload).__name__}")
