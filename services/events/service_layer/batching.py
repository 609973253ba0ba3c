"""Every decision for one meeting passes one serialised, batched step.

Each instance keeps an in-process queue per meeting. Commands for the same meeting that
arrive while a decision is running wait in it, and the next step decides them all in ONE
decision (:meth:`MeetingStreams.deciding`: the meeting's lock, one transaction): load the
state (the cached state, or the latest snapshot, plus newer events), decide each command in
arrival order, append all events with the stream's expected-version check, save a snapshot
every ``snapshot_every`` events, commit, and only then answer each caller. A refused
command gets its refusal and writes nothing; the others in the batch are not affected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import structlog
from prometheus_client import Counter, Histogram

from services.events.domain import commands as c
from services.events.domain import events as e
from services.events.domain.decisions import decide, evolve
from services.events.domain.errors import MeetingError, MeetingNotFoundError
from services.events.domain.model import Meeting
from services.events.service_layer.ports import (
    ConcurrencyError,
    IdempotencyRef,
    MeetingDecision,
    MeetingHeader,
    MeetingReader,
    MeetingStreams,
    Reply,
)
from services.kernel.refusals import Refusal

log = structlog.get_logger(__name__)

BATCH_SIZE = Histogram(
    "events_meeting_batch_size",
    "Commands decided in one transaction for one meeting",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500),
)
DECISIONS = Counter(
    "events_meeting_decisions_total", "Commands decided on meetings", ["command", "outcome"]
)

Render = Callable[[list[e.Event], Meeting], tuple[int, Any]]
"""Builds the answer (HTTP status, JSON body) from a command's events and the state after."""


@dataclass
class _Pending:
    command: c.Command
    render: Render
    idem: IdempotencyRef | None
    future: asyncio.Future[Reply] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ConcurrencyExhaustedError(Refusal):
    """The stream kept moving under us; should not happen with the meeting's lock."""

    code = "busy"
    title = "Mødet er travlt lige nu"
    retry_after = "1"

    def __init__(self, stream_id: str) -> None:
        super().__init__(
            "Mødet blev ændret samtidig fra flere sider. Intet er gemt. Prøv igen om lidt.",
            "The meeting was being changed concurrently. Nothing was saved. Try again shortly.",
        )
        self.stream_id = stream_id


def stream_id_of(meeting_ref: str) -> str:
    """``meeting-<uuid or slug>``: the stream id, whether or not the caller gave the prefix."""
    return meeting_ref if meeting_ref.startswith("meeting-") else f"meeting-{meeting_ref}"


@dataclass(eq=False)
class MeetingService:
    """Decides commands on meetings, batched per meeting. One per process."""

    streams: MeetingStreams
    _: KW_ONLY
    snapshot_every: int = 200
    max_batch: int = 500
    max_attempts: int = 5
    batches_decided: int = field(default=0, init=False)
    _queues: dict[str, list[_Pending]] = field(default_factory=dict, init=False, repr=False)
    _workers: dict[str, asyncio.Task[None]] = field(default_factory=dict, init=False, repr=False)
    _cache: dict[str, tuple[int, Meeting | None]] = field(
        default_factory=dict, init=False, repr=False
    )
    _headers: dict[str, MeetingHeader] = field(default_factory=dict, init=False, repr=False)

    async def execute(
        self, command: c.Command, render: Render, idem: IdempotencyRef | None = None
    ) -> Reply:
        """Queue ``command`` for its meeting and wait for the decision."""
        pending = _Pending(command, render, idem)
        stream = command.meeting_id
        self._queues.setdefault(stream, []).append(pending)
        if stream not in self._workers:
            self._workers[stream] = asyncio.create_task(self._drain(stream))
        return await pending.future

    def waiting(self, meeting_id: str) -> int:
        """How many commands wait for the meeting's next decision (not the running one)."""
        return len(self._queues.get(stream_id_of(meeting_id), ()))

    async def _drain(self, stream: str) -> None:
        try:
            while queue := self._queues.get(stream):
                batch = queue[: self.max_batch]
                del queue[: self.max_batch]
                await self._decide_batch(stream, batch)
        finally:
            # No await between the empty check and here: nothing can slip in unseen.
            self._workers.pop(stream, None)
            if not self._queues.get(stream):
                self._queues.pop(stream, None)

    async def _decide_batch(self, stream: str, batch: list[_Pending]) -> None:
        for _ in range(self.max_attempts):
            try:
                results = await self._try_batch(stream, batch)
            except ConcurrencyError:
                self._cache.pop(stream, None)
                log.warning("stream moved under the lock; retrying", stream=stream)
                continue
            except BaseException as exc:
                self._cache.pop(stream, None)
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                return
            self.batches_decided += 1
            BATCH_SIZE.observe(len(batch))
            for pending, result in zip(batch, results, strict=True):
                if pending.future.done():
                    continue
                name = type(pending.command).__name__
                if isinstance(result, Exception):
                    DECISIONS.labels(name, getattr(result, "code", "refused")).inc()
                    pending.future.set_exception(result)
                else:
                    DECISIONS.labels(name, "replayed" if result.replayed else "done").inc()
                    pending.future.set_result(result)
            return
        for pending in batch:
            if not pending.future.done():
                pending.future.set_exception(ConcurrencyExhaustedError(stream))

    async def _try_batch(self, stream: str, batch: list[_Pending]) -> list[Reply | Exception]:
        async with self.streams.deciding(stream) as decision:
            start_version, state = await self._load(decision, self._cache.get(stream))
            decided: list[e.Event] = []
            results: list[Reply | Exception] = []
            for pending in batch:
                try:
                    reply, state = await self._decide_one(decision, pending, state, decided)
                except (MeetingError, Refusal) as exc:
                    results.append(exc)
                else:
                    results.append(reply)
            version = start_version + len(decided)
            if decided:
                await decision.append(start_version, decided)
                if state is not None and (
                    version // self.snapshot_every > start_version // self.snapshot_every
                ):
                    await decision.save_snapshot(version, state)
        self._cache[stream] = (version, state)
        return results

    async def _decide_one(
        self,
        decision: MeetingDecision,
        pending: _Pending,
        state: Meeting | None,
        decided: list[e.Event],
    ) -> tuple[Reply, Meeting | None]:
        """Decide one command on ``state``; the refusal (raised) leaves ``state`` untouched."""
        if pending.idem is not None:
            stored = await decision.replayed(pending.idem)
            if stored is not None:
                return stored, state
        events = decide(state, pending.command)
        for event in events:
            state = evolve(state, event)
        decided.extend(events)
        if state is None:
            raise MeetingNotFoundError(pending.command.meeting_id)
        reply = Reply(*pending.render(events, state))
        if pending.idem is not None:
            # The answers of meeting commands name no person (ids, statuses, prices,
            # seats), so they are kept as they were given.
            await decision.remember(pending.idem, reply)
        return reply, state

    async def _load(
        self, reader: MeetingReader, known: tuple[int, Meeting | None] | None
    ) -> tuple[int, Meeting | None]:
        """The state: ``known`` (evolved in place) or the latest snapshot, plus newer events."""
        if known is not None:
            version, state = known
        else:
            version, state = await reader.snapshot() or (0, None)
        for at, event in await reader.events_after(version):
            state = evolve(state, event)
            version = at
        return version, state

    async def meeting(self, meeting_id: str) -> tuple[int, Meeting]:
        """The meeting's current state, read (not decided): for GET requests."""
        stream = stream_id_of(meeting_id)
        async with self.streams.reading(stream) as reader:
            cached = self._cache.get(stream)
            if (
                cached is not None
                and cached[1] is not None
                and await reader.version() == cached[0]
                and stream not in self._workers
            ):
                # Only read, never evolved, outside a decision; and no decision is running
                # now (checked after the await), so the state is the committed one.
                return cached[0], cached[1]
            version, state = await self._load(reader, None)
        if state is None:
            raise MeetingNotFoundError(stream)
        return version, state

    async def header(self, meeting_id: str) -> MeetingHeader:
        """Network and year of a meeting (from its first event; they never change)."""
        stream = stream_id_of(meeting_id)
        known = self._headers.get(stream)
        if known is not None:
            return known
        header = await self.streams.header(stream)
        if header is None:
            raise MeetingNotFoundError(stream)
        self._headers[stream] = header
        return header
