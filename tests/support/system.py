"""The whole system as real processes, for end-to-end tests.

Each service runs as ``python -m services.<name>`` with a database of its own made for the
test, one Kafka topic prefix shared by the three (so they talk to each other and to no other
test), the clock as of 19 November 2021, and the notifications service mailing an
in-process SMTP sink. Instances can be added, killed (SIGKILL) and restarted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from services.kernel.db import drop_database, ensure_database, with_database
from services.operator.processes import ENV_PREFIX, ServiceProcess
from tests.support import auth
from tests.support.kafka import delete_topics
from tests.support.notifications_smtp_sink import SmtpSink
from tests.support.ports import free_port
from tests.support.stack import ADMIN_DSN, KAFKA_BOOTSTRAP

AS_OF = "2021-11-19T09:00:00+01:00"
SERVICES = ("membership", "events", "notifications")
VAULT = "privacy"
"""The key vault's database, shared by the three services (as in production)."""


@dataclass
class System:
    unique: str
    smtp: SmtpSink
    bootstrap: str = KAFKA_BOOTSTRAP
    """The Kafka the services use (the stack's, or another such as the three-node cluster)."""
    instances: dict[str, list[ServiceProcess]] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"t{self.unique}."

    def dsn(self, service: str) -> str:
        return with_database(ADMIN_DSN, f"t_{self.unique}_{service}")

    def url(self, service: str, instance: int = 0) -> str:
        return self.instances[service][instance].url

    def env(self, service: str) -> dict[str, str]:
        prefix = ENV_PREFIX[service]
        env = {
            f"{prefix}_DATABASE_URL": self.dsn(service),
            f"{prefix}_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            f"{prefix}_KAFKA__TOPIC_PREFIX": self.prefix,
            f"{prefix}_CLOCK_AS_OF": AS_OF,
            **auth.env(prefix),
            f"{prefix}_PRIVACY__DATABASE_URL": self.dsn(VAULT),
        }
        if service == "events" and self.instances.get("membership"):
            env["EVENTS_MEMBERSHIP_URL"] = self.url("membership")
        if service == "notifications":
            env.update(
                {
                    "NOTIFICATIONS_SMTP_HOST": self.smtp.host,
                    "NOTIFICATIONS_SMTP_PORT": str(self.smtp.port),
                    # Not the default group "notifications": tests running at the same
                    # time would share it and rebalance each other.
                    "NOTIFICATIONS_CONSUMER_GROUP": f"{self.prefix}notifications",
                    "NOTIFICATIONS_RETRY_BASE": "PT1S",
                    "NOTIFICATIONS_POLL_INTERVAL_SECONDS": "0.2",
                }
            )
        return env

    async def start(self, service: str, count: int = 1, **env: str) -> list[ServiceProcess]:
        """Start ``count`` more instances of a service (``env`` on top of its environment,
        e.g. ``EVENTS_WORKERS="false"``) and wait until they are ready."""
        started = [
            ServiceProcess(service, free_port(), {**self.env(service), **env}) for _ in range(count)
        ]
        for process in started:
            process.start()
        self.instances.setdefault(service, []).extend(started)
        await asyncio.gather(*(asyncio.to_thread(p.wait_ready, 90) for p in started))
        return started

    async def kill(self, service: str, instance: int = 0) -> None:
        await asyncio.to_thread(self.instances[service][instance].kill)

    async def restart(self, service: str, instance: int = 0) -> None:
        process = self.instances[service][instance]
        await asyncio.to_thread(process.stop)
        process.start()
        await asyncio.to_thread(process.wait_ready, 90)

    async def stop_all(self) -> None:
        for processes in self.instances.values():
            for process in processes:
                await asyncio.to_thread(process.stop)


@asynccontextmanager
async def open_system(
    unique: str, smtp: SmtpSink, bootstrap: str = KAFKA_BOOTSTRAP
) -> AsyncIterator[System]:
    """Fresh databases and prefix on ``bootstrap``'s Kafka; services are started by the test
    (``system.start``), and stopped, their databases dropped and topics deleted at the end."""
    sys_ = System(unique, smtp, bootstrap)
    for service in (*SERVICES, VAULT):
        await ensure_database(sys_.dsn(service))
    try:
        yield sys_
    finally:
        await sys_.stop_all()
        for service in (*SERVICES, VAULT):
            await drop_database(sys_.dsn(service))
        await delete_topics(sys_.prefix, bootstrap)


@pytest.fixture
async def system(unique: str, smtp_sink: SmtpSink) -> AsyncIterator[System]:
    """Fresh databases and prefix; services are started by the test (``system.start``)."""
    async with open_system(unique, smtp_sink) as sys_:
        yield sys_
