"""Wires the events service: settings, clock, database, Kafka, membership lookup -> app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI

from contracts import meetings as meetings_wire
from contracts import membership as membership_wire
from contracts import privacy as privacy_wire
from contracts.catalog import registry
from services.events.adapters import membership_view
from services.events.adapters.erasures import PostgresErasureLog
from services.events.adapters.membership_client import HttpMembershipLookup
from services.events.adapters.projections import migrations as projection_migrations
from services.events.adapters.projections.rebuild import rebuild
from services.events.adapters.streams import PostgresMeetingStreams
from services.events.config import Settings
from services.events.entrypoints.http import create_app
from services.events.entrypoints.subscribers import (
    membership_view_subscription,
    privacy_subscription,
    projections_subscription,
)
from services.events.service_layer.batching import MeetingService
from services.events.service_layer.eligibility import EligibilityService
from services.events.service_layer.erasure import ErasureService
from services.events.service_layer.handlers import MeetingHandlers
from services.events.service_layer.ports import MembershipLookup, ViewCompleteness
from services.kernel.auth import install_auth
from services.kernel.clock import Clock, clock_from_setting
from services.kernel.eventstore import EventStore
from services.kernel.freshness import KafkaEndOffsets, PostgresAppliedOffsets, ViewFreshness
from services.kernel.privacy import Vault
from services.kernel.runtime import ServiceRuntime
from services.kernel.subscriber import Subscription

SOURCE = "/kl/events"
MIGRATIONS = (*membership_view.MIGRATIONS, *projection_migrations.MIGRATIONS)


@dataclass
class EventsService:
    """Everything one process of the events service holds."""

    settings: Settings
    clock: Clock
    runtime: ServiceRuntime
    store: EventStore
    meetings: MeetingService
    eligibility: EligibilityService
    handlers: MeetingHandlers
    membership_subscription: Subscription
    projection_subscription: Subscription
    privacy_subscription: Subscription
    vault: Vault
    erasure: ErasureService
    app: FastAPI

    async def start(self) -> None:
        """Start the runtime (ASGI test clients do not run the lifespan)."""
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()

    async def rebuild_projections(self) -> int:
        """Rebuild the read models from the event store (see ``projections.rebuild``)."""
        return await rebuild(
            self.runtime.pool, self.store, self.projection_subscription.name, self.vault
        )


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    lookup: MembershipLookup | None = None,
    completeness: ViewCompleteness | None = None,
    subscribe: bool = True,
    vault: Vault | None = None,
) -> EventsService:
    """Build the service with overridable defaults (tests inject the clock, the membership
    lookup and whether the membership view is complete)."""
    settings = settings or Settings()
    clock = clock or clock_from_setting(settings.clock_as_of)
    runtime = ServiceRuntime(
        name="events",
        dsn=settings.database_url,
        kafka=settings.kafka,
        migrations=MIGRATIONS,
        topics={meetings_wire.MEETING_TOPIC: 3, privacy_wire.PRIVACY_TOPIC: 3},
        pool_size=settings.pool_size,
        run_relay=settings.workers,
        port=settings.port,
        housekeeping=settings.housekeeping,
        metrics_interval_s=settings.metrics_interval_s,
    )
    runtime.document(
        [
            m
            for m in registry.types().values()
            if m.topic in (meetings_wire.MEETING_TOPIC, privacy_wire.PRIVACY_TOPIC)
            and not m.retired
        ]
    )
    vault = vault or Vault(settings.privacy)
    runtime.closers.append(vault.close)

    store = EventStore(source=SOURCE)
    meetings = MeetingService(
        PostgresMeetingStreams(lambda: runtime.pool, store),
        snapshot_every=settings.snapshot_every,
        max_batch=settings.max_batch,
    )
    membership_sub = membership_view_subscription(lambda: runtime.pool, settings.kafka)
    end_offsets = KafkaEndOffsets(settings.kafka)
    runtime.closers.append(end_offsets.close)
    eligibility = EligibilityService(
        membership_view.PostgresMembershipView(lambda: runtime.pool),
        lookup
        or HttpMembershipLookup(settings.membership_url, timeout=settings.membership_timeout_s),
        completeness
        or ViewFreshness(
            "membership",
            membership_sub.name,
            [membership_wire.MEMBERSHIP_TOPIC],
            end_offsets,
            PostgresAppliedOffsets(lambda: runtime.pool),
            max_wait_s=settings.membership_view_wait_s,
        ),
    )
    retention = timedelta(days=settings.privacy.retention_days)
    projection_sub = projections_subscription(
        lambda: runtime.pool, settings.kafka, vault, retention
    )
    privacy_sub = privacy_subscription(lambda: runtime.pool, settings.kafka, vault)
    erasure = ErasureService(PostgresErasureLog(lambda: runtime.pool, store), vault, clock)
    handlers = MeetingHandlers(
        meetings,
        eligibility,
        vault,
        clock,
        pending=timedelta(days=settings.privacy.pending_days),
    )
    if subscribe and settings.workers:
        runtime.subscribe(membership_sub)
        runtime.subscribe(projection_sub)
        runtime.subscribe(privacy_sub)
    if settings.workers:
        interval = settings.privacy.sweep_interval_s
        runtime.background.append(lambda stop: erasure.run_sweeper(stop, interval))
    app = create_app(
        runtime=runtime,
        handlers=handlers,
        meetings_service=meetings,
        settings=settings,
        erasure=erasure,
    )
    runtime.install_admin_routes(app)
    install_auth(app, settings.auth)
    return EventsService(
        settings=settings,
        clock=clock,
        runtime=runtime,
        store=store,
        meetings=meetings,
        eligibility=eligibility,
        handlers=handlers,
        membership_subscription=membership_sub,
        projection_subscription=projection_sub,
        privacy_subscription=privacy_sub,
        vault=vault,
        erasure=erasure,
        app=app,
    )
