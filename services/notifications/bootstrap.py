"""Wires the notifications service: settings, clock, runtime, use cases, worker and app.

Every part has an overridable default, so tests pass a ``ManualClock``, a fake mailer, or
turn the background loop off and drive :meth:`NotificationsService.tick` themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from fastapi import FastAPI

from contracts.notifications import (
    NOTIFICATION_TOPIC,
    NotificationFailed,
    NotificationQueued,
    NotificationSent,
)
from services.kernel.auth import install_auth
from services.kernel.clock import Clock, clock_from_setting
from services.kernel.db import listen
from services.kernel.eventstore import EventStore
from services.kernel.lifecycle import running
from services.kernel.privacy import Vault
from services.kernel.runtime import ServiceRuntime
from services.notifications.adapters.deliveries import DELIVERIES_CHANNEL, PostgresDeliveries
from services.notifications.adapters.email import MimeComposer
from services.notifications.adapters.messages import DanishMessages
from services.notifications.adapters.migrations import MIGRATIONS
from services.notifications.adapters.smtp import SmtpMailer
from services.notifications.adapters.store import PostgresNotificationStores
from services.notifications.config import Settings
from services.notifications.domain.decisions import Policy
from services.notifications.domain.model import Person
from services.notifications.entrypoints.http import create_app
from services.notifications.entrypoints.subscribers import build_subscription
from services.notifications.service_layer.delivery import DeliveryWorker, RetryPolicy
from services.notifications.service_layer.handlers import Notifier
from services.notifications.service_layer.invitations import Inviter
from services.notifications.service_layer.ports import Mailer

log = structlog.get_logger(__name__)

SOURCE = "/kl/notifications"


@dataclass
class NotificationsService:
    """One running instance: runtime (pool, relay, subscriber), use cases and background loop."""

    settings: Settings
    clock: Clock
    runtime: ServiceRuntime
    notifier: Notifier
    worker: DeliveryWorker
    vault: Vault
    background: bool = True
    app: FastAPI = field(init=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.app = create_app(
            lambda: self.runtime.pool,
            self.runtime.readiness_checks(),
            lifespan=self.lifespan,
            vault=self.vault,
        )
        self.runtime.install_admin_routes(self.app)
        install_auth(self.app, self.settings.auth)

    async def tick(self, now: datetime | None = None) -> tuple[int, int]:
        """Queue due reminders, then send due mail, as of ``now`` (default: the clock's).

        Returns (reminders queued, delivery attempts made).
        """
        moment = now or self.clock.now()
        reminders = await self.notifier.run_due_reminders(moment)
        attempts = await self.worker.deliver_due(moment)
        return reminders, attempts

    async def start(self) -> None:
        await self.runtime.start()
        if self.background:
            self._stop.clear()
            self._tasks = [
                asyncio.create_task(self._loop()),
                # Queued mail wakes the loop at once (every instance; SKIP LOCKED shares it).
                asyncio.create_task(
                    listen(self.settings.database_url, DELIVERIES_CHANNEL, self._wake, self._stop)
                ),
            ]

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 20)
        self._tasks = []
        await self.worker.mailer.close()
        await self.runtime.stop()

    def lifespan(self, _: Any) -> AbstractAsyncContextManager[None]:
        """The FastAPI lifespan: started before serving, stopped after."""
        return running(self)

    async def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the round: a NOTIFY during it calls for another
            attempts = 0
            try:
                _, attempts = await self.tick()
            except Exception as exc:  # the database or SMTP away: try again next round
                log.warning("notification loop failed, will retry", error=repr(exc))
            if attempts >= self.worker.max_per_run:
                continue  # more may be due: no pause
            stop = asyncio.ensure_future(self._stop.wait())
            wake = asyncio.ensure_future(self._wake.wait())
            try:  # the pause between rounds, cut short by queued mail or by stop
                await asyncio.wait(
                    {stop, wake},
                    timeout=self.settings.poll_interval_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                stop.cancel()
                wake.cancel()


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    background: bool = True,
    vault: Vault | None = None,
) -> NotificationsService:
    """Build the service; nothing connects until :meth:`NotificationsService.start`."""
    settings = settings or Settings()
    clock = clock or clock_from_setting(settings.clock_as_of)
    runtime = ServiceRuntime(
        name="notifications",
        dsn=settings.database_url,
        kafka=settings.kafka,
        migrations=MIGRATIONS,
        topics={NOTIFICATION_TOPIC: 3},
        port=settings.port,
        housekeeping=settings.housekeeping,
        metrics_interval_s=settings.metrics_interval_s,
    )
    store = EventStore(source=SOURCE)
    vault = vault or Vault(settings.privacy)
    runtime.closers.append(vault.close)
    policy = Policy(
        organiser=Person(settings.organiser_name, settings.organiser_email),
        reminder_before=settings.reminder_before,
        calendar_domain=settings.calendar_domain,
    )
    stores = PostgresNotificationStores(lambda: runtime.pool, store)
    notifier = Notifier(policy, clock, vault, stores, DanishMessages())
    runtime.subscribe(
        build_subscription(
            notifier,
            stores,
            name=settings.consumer_group,
            pool=lambda: runtime.pool,
            kafka=settings.kafka,
            batch_size=settings.consumer_batch_size,
            inviter=Inviter(notifier, settings.web_url),
        )
    )
    runtime.document([NotificationQueued, NotificationSent, NotificationFailed])
    worker = DeliveryWorker(
        PostgresDeliveries(lambda: runtime.pool, store),
        mailer
        or SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
            connections=settings.delivery_senders,
        ),
        MimeComposer(settings.sender, settings.calendar_domain),
        retry=RetryPolicy(settings.retry_base, settings.retry_cap, settings.max_attempts),
        batch_size=settings.delivery_batch_size,
        senders=settings.delivery_senders,
    )
    return NotificationsService(settings, clock, runtime, notifier, worker, vault, background)
