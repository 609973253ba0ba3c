"""One poll per key, shared by every listener: live answers that cost the same for one
listener as for a thousand.

A page that shows a meeting's free seats listens to a stream; each stream polling the
database on its own (at an interval the client chose) made N streams N queries per
interval. :class:`SharedPoll` runs one task per key while anybody listens, at the
server's interval, and hands every change to all the key's listeners. The task stops
when the last listener leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

import structlog
from prometheus_client import Counter

log = structlog.get_logger(__name__)

T = TypeVar("T")

POLLS = Counter(
    "shared_polls_total", "Polls made by shared polls (one per key and interval)", ["name"]
)


class _Key(Generic[T]):
    """The latest value of one key and the listeners waiting for the next."""

    def __init__(self) -> None:
        self.value: T | None = None
        self.version = 0
        self.listeners = 0
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def publish(self, value: T) -> None:
        self.value = value
        self.version += 1
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def changes(self) -> AsyncIterator[T]:
        """The current value (once known), then each new one."""
        seen = 0
        while True:
            changed = self.changed
            if self.version != seen and self.value is not None:
                seen = self.version
                yield self.value
                continue
            await changed.wait()


class SharedPoll(Generic[T]):
    """Polls ``fetch(key)`` every ``interval_s`` for the keys somebody listens to."""

    def __init__(
        self, fetch: Callable[[str], Awaitable[T | None]], interval_s: float, name: str
    ) -> None:
        self._fetch = fetch
        self.interval_s = interval_s
        self.name = name
        self._keys: dict[str, _Key[T]] = {}

    @property
    def keys_polled(self) -> int:
        return len(self._keys)

    @contextlib.asynccontextmanager
    async def listen(self, key: str) -> AsyncIterator[AsyncIterator[T]]:
        """The changes of ``key`` (an async iterator) while the block runs."""
        entry = self._keys.get(key)
        if entry is None:
            entry = self._keys[key] = _Key()
            entry.task = asyncio.create_task(self._poll(key, entry))
        entry.listeners += 1
        try:
            yield entry.changes()
        finally:
            entry.listeners -= 1
            if entry.listeners == 0 and self._keys.get(key) is entry:
                del self._keys[key]
                if entry.task is not None:
                    entry.task.cancel()

    async def _poll(self, key: str, entry: _Key[T]) -> None:
        while True:
            try:
                value = await self._fetch(key)
            except Exception as exc:  # the database away: the listeners keep the last value
                log.warning("shared poll failed", poll=self.name, error=type(exc).__name__)
            else:
                POLLS.labels(self.name).inc()
                if value is not None and value != entry.value:
                    entry.publish(value)
            await asyncio.sleep(self.interval_s)  # wait-ok: the poll's interval
