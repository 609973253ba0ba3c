"""Wires the membership service: settings, clock, runtime, subscription, HTTP app.

Every default can be overridden (tests pass their own settings and a manual clock)::

    app = bootstrap(Settings(database_url=dsn, kafka=...), clock=ManualClock(...))
    container = app.state.container        # .start() / .stop() when no lifespan runs
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from contracts import membership as cm
from contracts import outreach as co
from services.kernel.auth import install_auth
from services.kernel.clock import Clock, clock_from_setting
from services.kernel.eventstore import EventStore
from services.kernel.lifecycle import running
from services.kernel.outbox import PublishedWaiter
from services.kernel.privacy import Vault
from services.kernel.runtime import ServiceRuntime
from services.membership.adapters import outreach_views, roster
from services.membership.adapters.streams import SOURCE, PostgresStreams
from services.membership.config import Settings
from services.membership.entrypoints.http import create_app
from services.membership.entrypoints.outreach_subscribers import outreach_subscription
from services.membership.entrypoints.subscribers import (
    privacy_subscription,
    roster_subscription,
)
from services.membership.service_layer.seed import seed_networks

SERVICE_NAME = "membership"

PUBLISHED = (
    cm.MembershipJoined,
    cm.MembershipRenewed,
    cm.MembershipCancelled,
    cm.MembershipContactChanged,
    cm.NetworkCreated,
    co.AreaListPublished,
    co.MunicipalityInvited,
    co.InvitationReminded,
)


def build_runtime(settings: Settings, vault: Vault | None = None) -> ServiceRuntime:
    """The runtime with the roster subscription attached and the published events documented."""
    vault = vault or Vault(settings.privacy)
    runtime = ServiceRuntime(
        name=SERVICE_NAME,
        dsn=settings.database_url,
        kafka=settings.kafka,
        migrations=(*roster.MIGRATIONS, *outreach_views.MIGRATIONS),
        topics={
            cm.MEMBERSHIP_TOPIC: 3,
            cm.NETWORK_TOPIC: 1,
            co.AREA_LIST_TOPIC: 1,
            co.INVITATION_TOPIC: 3,
        },
        pool_size=settings.pool_size,
        port=settings.port,
        housekeeping=settings.housekeeping,
        metrics_interval_s=settings.metrics_interval_s,
    )
    runtime.subscribe(roster_subscription(lambda: runtime.pool, settings.kafka))
    runtime.subscribe(privacy_subscription(lambda: runtime.pool, settings.kafka, vault))
    runtime.subscribe(outreach_subscription(lambda: runtime.pool, settings.kafka))
    runtime.closers.append(vault.close)
    runtime.document(PUBLISHED)
    return runtime


@dataclass
class Container:
    """The service's long-lived parts; ``start`` also seeds the KNUB network."""

    settings: Settings
    clock: Clock
    store: EventStore
    runtime: ServiceRuntime
    vault: Vault

    async def start(self) -> None:
        await self.runtime.start()
        await self.start_seed()

    async def start_seed(self) -> None:
        """Seed the KNUB network (idempotent: every instance does it at every start)."""
        async with self.runtime.pool.acquire() as conn:
            await seed_networks(PostgresStreams(conn, self.store, self.vault), self.clock)

    async def stop(self) -> None:
        await self.runtime.stop()

    def lifespan(self, _: Any) -> AbstractAsyncContextManager[None]:
        """The FastAPI lifespan: started before serving, stopped after."""
        return running(self)


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The membership service's FastAPI app; its lifespan starts and stops everything."""
    settings = settings or Settings()
    vault = Vault(settings.privacy)
    runtime = build_runtime(settings, vault)
    container = Container(
        settings=settings,
        clock=clock or clock_from_setting(settings.clock_as_of),
        store=EventStore(source=SOURCE),
        runtime=runtime,
        vault=vault,
    )
    app = create_app(
        pool=lambda: runtime.pool,
        store=container.store,
        clock=container.clock,
        vault=vault,
        published=PublishedWaiter(
            lambda: runtime.pool,
            timeout_s=settings.publish_wait_s,
            usable=lambda: runtime.kafka_error is None,
        ),
        lifespan=container.lifespan,
        readiness_checks=runtime.readiness_checks(),
    )
    runtime.install_admin_routes(app)
    install_auth(app, settings.auth)
    app.state.container = container
    return app
