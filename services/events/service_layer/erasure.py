"""Erasing a person: delete the key in the vault and tell every service.

One step, in the events database's transaction: record ``PersonErased`` (stream = the
person id, so it is published once) with its outbox row, then erase in the vault, then
commit. If the vault refuses, nothing is published; if the commit fails after the vault
erased, the data is already unreadable everywhere and a retry by person id publishes the
event (the vault's erase is idempotent). The retention sweeper erases the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Literal

import structlog

from services.events.service_layer.ports import ConcurrencyError, ErasureLog, KeyVault
from services.kernel.clock import Clock

log = structlog.get_logger(__name__)

Reason = Literal["request", "retention"]

SWEEPER = "privacy-retention-sweeper"


class UnknownPersonError(LookupError):
    """The vault never knew this person id."""


@dataclass(eq=False)
class ErasureService:
    """Erasure on request and by retention, for the events service (which publishes)."""

    erasures: ErasureLog
    vault: KeyVault
    clock: Clock

    async def erase(self, person_id: str, reason: Reason) -> bool:
        """Erase the person; True if published now, False if it had been already.

        Raises :class:`UnknownPersonError` for an id the vault never knew.
        """
        if not await self.vault.known(person_id) and not await self.vault.erased(person_id):
            raise UnknownPersonError(person_id)
        try:
            async with self.erasures.erasing(person_id) as erasure:
                if await erasure.published():
                    await self.vault.erase(person_id, reason)
                    return False
                await erasure.publish(reason, self.clock.now())
                await self.vault.erase(person_id, reason)
        except ConcurrencyError:
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
        """Sweep every ``interval_s`` while this process leads the sweeper."""
        while not stop.is_set():
            try:
                async with self.erasures.leading(SWEEPER) as leader:
                    if leader:
                        await self.sweep()
            except Exception as exc:  # the sweeper must outlive a database hiccup
                log.warning("retention sweep failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
