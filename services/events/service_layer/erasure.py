"""Erasing a person: delete the key in the vault and tell every service.

One step, in the events database's transaction: append ``PersonErased`` (stream = the
person id, so it is published once) with its outbox row, then erase in the vault, then
commit. If the vault refuses, nothing is published; if the commit fails after the vault
erased, the data is already unreadable everywhere and a retry by person id publishes the
event (the vault's erase is idempotent). The retention sweeper erases the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Literal

import asyncpg
import structlog

from contracts.privacy import PRIVACY_TOPIC, PersonErased
from services.kernel.clock import Clock
from services.kernel.db import lock_key
from services.kernel.eventstore import EventStore, NewEvent, StreamVersionConflictError
from services.kernel.privacy import Vault

log = structlog.get_logger(__name__)

Reason = Literal["request", "retention"]


class UnknownPersonError(LookupError):
    """The vault never knew this person id."""


class ErasureService:
    """Erasure on request and by retention, for the events service (which publishes)."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        store: EventStore,
        vault: Vault,
        clock: Clock,
        *,
        retention: timedelta,
    ) -> None:
        self._pool = pool
        self.store = store
        self.vault = vault
        self.clock = clock
        self.retention = retention

    async def erase(self, person_id: str, reason: Reason) -> bool:
        """Erase the person; True if published now, False if it had been already.

        Raises :class:`UnknownPersonError` for an id the vault never knew.
        """
        if not await self.vault.known(person_id) and not await self.vault.erased(person_id):
            raise UnknownPersonError(person_id)
        now = self.clock.now()
        payload = PersonErased(person_id=person_id, reason=reason, occurred_at=now)
        try:
            async with self._pool().acquire() as conn, conn.transaction():
                if await self.store.stream_version(conn, person_id) > 0:
                    await self.vault.erase(person_id, reason)
                    return False
                await self.store.append(
                    conn,
                    stream_id=person_id,
                    expected_version=0,
                    events=[NewEvent(payload.type_name(), payload.to_data(), time=now)],
                    topic=PRIVACY_TOPIC,
                )
                await self.vault.erase(person_id, reason)
        except StreamVersionConflictError:
            return False  # erased by someone else at the same moment
        return True

    # --- retention ------------------------------------------------------------------

    async def sweep(self) -> int:
        """Erase everyone whose holds have all run out; how many."""
        erased = 0
        while due := await self.vault.retention.due(self.clock.now()):
            for person_id in due:
                await self.erase(person_id, "retention")
                erased += 1
        if erased:
            log.info("retention sweep erased persons", erased=erased)
        return erased

    async def run_sweeper(self, stop: asyncio.Event, interval_s: float) -> None:
        """Sweep every ``interval_s`` while this process holds the sweeper's lock."""
        while not stop.is_set():
            try:
                async with self._pool().acquire() as conn:
                    leader = await conn.fetchval(
                        "SELECT pg_try_advisory_lock($1)", lock_key("privacy-retention-sweeper")
                    )
                    if leader:
                        try:
                            await self.sweep()
                        finally:
                            await conn.execute(
                                "SELECT pg_advisory_unlock($1)",
                                lock_key("privacy-retention-sweeper"),
                            )
            except Exception as exc:  # the sweeper must outlive a database hiccup
                log.warning("retention sweep failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
