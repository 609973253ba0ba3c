"""An in-memory implementation of the :class:`MeetingStreams` port, for unit tests.

It keeps what the PostgreSQL adapter keeps (each stream's events, snapshots, the answers of
Idempotency-Keys) with the same promises: one decision at a time per meeting, the
expected-version check on append, and a decision's writes kept only if it ends without an
exception. Snapshots are copies, as the adapter's JSON is.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from services.events.domain import events as e
from services.events.domain.model import Meeting
from services.events.service_layer.ports import (
    ConcurrencyError,
    IdempotencyRef,
    MeetingHeader,
    Reply,
)
from services.kernel.idempotency import IdempotencyKeyReusedError


@dataclass
class _Stored:
    request_hash: str
    reply: Reply


@dataclass
class FakeMeetingStreams:
    streams: dict[str, list[e.Event]] = field(default_factory=dict)
    snapshots: dict[str, tuple[int, Meeting]] = field(default_factory=dict)
    answers: dict[tuple[str, str], _Stored] = field(default_factory=dict)
    decisions: int = 0
    """Decisions that committed."""
    gate: asyncio.Event | None = None
    """When set by a test: the next decision waits for it once it holds the lock."""
    at_gate: asyncio.Event = field(default_factory=asyncio.Event)
    """Set while a decision waits at the gate."""
    fail_append: BaseException | None = None
    """When set by a test: the next append raises it."""
    moved: int = 0
    """When set by a test: the next ``moved`` appends find the stream moved."""
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def append_elsewhere(self, stream_id: str, *events: e.Event) -> None:
        """Another instance appends (the cache of a service is then behind)."""
        self.streams.setdefault(stream_id, []).extend(events)

    @asynccontextmanager
    async def reading(self, stream_id: str) -> AsyncIterator[_Decision]:
        yield _Decision(self, stream_id)

    @asynccontextmanager
    async def deciding(self, stream_id: str) -> AsyncIterator[_Decision]:
        async with self._locks.setdefault(stream_id, asyncio.Lock()):
            if self.gate is not None:
                gate, self.gate = self.gate, None
                self.at_gate.set()
                await gate.wait()
                self.at_gate.clear()
            decision = _Decision(self, stream_id)
            yield decision
            decision.commit()  # only reached when the block raised nothing
            self.decisions += 1

    async def header(self, stream_id: str) -> MeetingHeader | None:
        events = self.streams.get(stream_id)
        if not events or not isinstance(events[0], e.MeetingScheduled):
            return None
        return MeetingHeader(events[0].network_slug, events[0].year)


class _Decision:
    def __init__(self, fake: FakeMeetingStreams, stream_id: str) -> None:
        self.fake = fake
        self.stream_id = stream_id
        self._events: list[e.Event] = []
        self._snapshot: tuple[int, Meeting] | None = None
        self._answers: dict[tuple[str, str], _Stored] = {}

    async def version(self) -> int:
        return len(self.fake.streams.get(self.stream_id, []))

    async def snapshot(self) -> tuple[int, Meeting] | None:
        found = self.fake.snapshots.get(self.stream_id)
        return None if found is None else (found[0], copy.deepcopy(found[1]))

    async def events_after(self, version: int) -> Sequence[tuple[int, e.Event]]:
        events = self.fake.streams.get(self.stream_id, [])
        return [(n, event) for n, event in enumerate(events, 1) if n > version]

    async def replayed(self, ref: IdempotencyRef) -> Reply | None:
        stored = self._answers.get((ref.scope, ref.key)) or self.fake.answers.get(
            (ref.scope, ref.key)
        )
        if stored is None:
            return None
        if stored.request_hash != ref.request_hash:
            raise IdempotencyKeyReusedError()
        return Reply(stored.reply.status, stored.reply.body, replayed=True)

    async def remember(self, ref: IdempotencyRef, reply: Reply) -> None:
        self._answers[(ref.scope, ref.key)] = _Stored(ref.request_hash, reply)

    async def append(self, expected_version: int, events: Sequence[e.Event]) -> None:
        if self.fake.fail_append is not None:
            failure, self.fake.fail_append = self.fake.fail_append, None
            raise failure
        if self.fake.moved:
            self.fake.moved -= 1
            raise ConcurrencyError(self.stream_id)
        if await self.version() != expected_version:
            raise ConcurrencyError(self.stream_id)
        self._events.extend(events)

    async def save_snapshot(self, version: int, state: Meeting) -> None:
        self._snapshot = (version, copy.deepcopy(state))

    def commit(self) -> None:
        self.fake.streams.setdefault(self.stream_id, []).extend(self._events)
        if self._snapshot is not None:
            self.fake.snapshots[self.stream_id] = self._snapshot
        self.fake.answers.update(self._answers)
