"""Use cases on meetings: every decision for one meeting passes one serialised, batched step.

Each instance keeps an in-process queue per meeting. Commands for the same meeting that
arrive while a decision is running wait in it, and the next step decides them all in ONE
transaction: take the meeting's advisory lock (instances serialise on it), load the state
(the cached state, or the latest snapshot, plus newer events), decide each command in
arrival order, append all events with the stream's expected-version check, save a snapshot
every ``snapshot_every`` events, commit, and only then answer each caller. A refused
command gets its refusal and writes nothing; the others in the batch are not affected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from prometheus_client import Counter, Histogram

from contracts.meetings import MEETING_TOPIC
from services.events.adapters.translation import (
    SNAPSHOT_FORMAT,
    from_record,
    meeting_from_json,
    meeting_to_json,
    to_new_event,
)
from services.events.domain import commands as c
from services.events.domain import events as e
from services.events.domain.decide import decide, evolve
from services.events.domain.errors import MeetingError, MeetingNotFoundError
from services.events.domain.model import Meeting, MembershipStanding
from services.events.service_layer.ports import (
    MembershipLookup,
    MembershipView,
    ViewCompleteness,
)
from services.kernel import idempotency
from services.kernel.db import lock_key
from services.kernel.eventstore import EventStore, StreamVersionConflictError
from services.kernel.http import ProblemError

log = structlog.get_logger(__name__)

BATCH_SIZE = Histogram(
    "events_meeting_batch_size",
    "Commands decided in one transaction for one meeting",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500),
)
DECISIONS = Counter(
    "events_meeting_decisions_total", "Commands decided on meetings", ["command", "outcome"]
)
MEMBERSHIP_LOOKUPS = Counter(
    "events_membership_lookups_total",
    "Questions to the membership service (its view could not be shown complete in time)",
)

Render = Callable[[list[e.Event], Meeting], tuple[int, Any]]
"""Builds the answer (HTTP status, JSON body) from a command's events and the state after."""


@dataclass(frozen=True)
class Reply:
    """The answer to one command: what an HTTP client gets (also on an idempotent retry)."""

    status: int
    body: Any
    replayed: bool = False


@dataclass(frozen=True)
class IdempotencyRef:
    scope: str
    key: str
    request_hash: str


@dataclass
class _Pending:
    command: c.Command
    render: Render
    idem: IdempotencyRef | None
    future: asyncio.Future[Reply] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ConcurrencyExhaustedError(Exception):
    """The stream kept moving under us; should not happen with the advisory lock."""


def stream_id_of(meeting_ref: str) -> str:
    """``meeting-<uuid or slug>``: the stream id, whether or not the caller gave the prefix."""
    return meeting_ref if meeting_ref.startswith("meeting-") else f"meeting-{meeting_ref}"


@dataclass(frozen=True)
class MeetingHeader:
    """What never changes after scheduling: the network and the membership year."""

    network_slug: str
    year: int


class MeetingService:
    """Decides commands on meetings, batched per meeting. One per process."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        store: EventStore,
        *,
        snapshot_every: int = 200,
        max_batch: int = 500,
        max_attempts: int = 5,
    ) -> None:
        self._pool = pool
        self.store = store
        self.snapshot_every = snapshot_every
        self.max_batch = max_batch
        self.max_attempts = max_attempts
        self._queues: dict[str, list[_Pending]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._cache: dict[str, tuple[int, Meeting | None]] = {}
        self._headers: dict[str, MeetingHeader] = {}
        self.batches_decided = 0

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
            except StreamVersionConflictError:
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
        async with self._pool().acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(stream))
            start_version, state = await self._load(conn, stream, use_cache=True)
            decided: list[e.Event] = []
            results: list[Reply | Exception] = []
            for pending in batch:
                try:
                    reply, state = await self._decide_one(conn, pending, state, decided)
                except (MeetingError, ProblemError) as exc:
                    results.append(exc)
                else:
                    results.append(reply)
            version = start_version + len(decided)
            if decided:
                await self.store.append(
                    conn,
                    stream_id=stream,
                    expected_version=start_version,
                    events=[to_new_event(ev) for ev in decided],
                    topic=MEETING_TOPIC,
                )
                if state is not None and (
                    version // self.snapshot_every > start_version // self.snapshot_every
                ):
                    await self.store.save_snapshot(conn, stream, version, meeting_to_json(state))
        self._cache[stream] = (version, state)
        return results

    async def _decide_one(
        self,
        conn: asyncpg.Connection,
        pending: _Pending,
        state: Meeting | None,
        decided: list[e.Event],
    ) -> tuple[Reply, Meeting | None]:
        """Decide one command on ``state``; the refusal (raised) leaves ``state`` untouched."""
        if pending.idem is not None:
            stored = await idempotency.begin(
                conn, pending.idem.scope, pending.idem.key, pending.idem.request_hash
            )
            if stored is not None:
                # The answers of meeting commands name no person (ids, statuses, prices,
                # seats), so they are stored as they were given.
                return Reply(stored.status, stored.body, replayed=True), state
        events = decide(state, pending.command)
        for event in events:
            state = evolve(state, event)
        decided.extend(events)
        if state is None:
            raise MeetingNotFoundError(pending.command.meeting_id)
        status, body = pending.render(events, state)
        if pending.idem is not None:
            await idempotency.remember(
                conn,
                pending.idem.scope,
                pending.idem.key,
                pending.idem.request_hash,
                status,
                body=body,
            )
        return Reply(status, body), state

    async def _load(
        self, conn: asyncpg.Connection, stream: str, *, use_cache: bool
    ) -> tuple[int, Meeting | None]:
        cached = self._cache.get(stream) if use_cache else None
        if cached is not None:
            version, state = cached
        else:
            snapshot = await self.store.load_snapshot(conn, stream)
            version, state = (
                (0, None)
                if snapshot is None or snapshot[1].get("format") != SNAPSHOT_FORMAT
                else (
                    snapshot[0],
                    meeting_from_json(snapshot[1]),
                )
            )
        for record in await self.store.read_stream(conn, stream, after_version=version):
            state = evolve(state, from_record(record))
            version = record.version
        return version, state

    async def meeting(self, meeting_id: str) -> tuple[int, Meeting]:
        """The meeting's current state, read (not decided): for GET requests."""
        stream = stream_id_of(meeting_id)
        async with self._pool().acquire() as conn:
            cached = self._cache.get(stream)
            if (
                cached is not None
                and cached[1] is not None
                and await self.store.stream_version(conn, stream) == cached[0]
                and stream not in self._workers
            ):
                # Only read, never evolved, outside a decision; and no decision is running
                # now (checked after the await), so the state is the committed one.
                return cached[0], cached[1]
            version, state = await self._load(conn, stream, use_cache=False)
        if state is None:
            raise MeetingNotFoundError(stream)
        return version, state

    async def header(self, meeting_id: str) -> MeetingHeader:
        """Network and year of a meeting (from its first event; they never change)."""
        stream = stream_id_of(meeting_id)
        known = self._headers.get(stream)
        if known is not None:
            return known
        data = await self._pool().fetchval(
            "SELECT data FROM events WHERE stream_id = $1 AND version = 1", stream
        )
        if data is None:
            raise MeetingNotFoundError(stream)
        header = MeetingHeader(data["network_slug"], int(data["year"]))
        self._headers[stream] = header
        return header


class EligibilityService:
    """Membership standing from the service's own view of the membership topic.

    A member of the meeting's year is seen in the view and answered at once. Anyone else
    is answered from the view only once it is shown complete (``completeness``): a round
    that started after the question found the view's consumer at the topic's end. The
    membership service answers a join only once the join is on the topic, so a
    municipality that joined a moment ago is never refused or charged as a guest because
    an event was late, and no registration calls the membership service. Only when the
    view cannot be shown complete in time (its consumer far behind, Kafka away) is the
    membership service asked (``lookup``), and if that fails too the caller gets
    :class:`MembershipServiceUnavailableError` (503), never a guess.
    """

    def __init__(
        self, view: MembershipView, lookup: MembershipLookup, completeness: ViewCompleteness
    ) -> None:
        self.view = view
        self.lookup = lookup
        self.completeness = completeness
        self.lookups = 0

    async def standing(self, header: MeetingHeader, municipality_code: str) -> MembershipStanding:
        """Raises MembershipServiceUnavailableError when the answer cannot be known."""
        asked_at = self.completeness.now()
        slug, year, next_year = header.network_slug, header.year, header.year + 1
        shown = await self.view.active_years(slug, municipality_code, [year, next_year])
        if year in shown:
            return MembershipStanding(member_of_year=True, member_of_next_year=next_year in shown)
        if await self.completeness.complete_since(asked_at):
            shown = await self.view.active_years(slug, municipality_code, [year, next_year])
            return MembershipStanding(
                member_of_year=year in shown, member_of_next_year=next_year in shown
            )
        if await self._ask(slug, year, municipality_code):
            return MembershipStanding(member_of_year=True, member_of_next_year=next_year in shown)
        if next_year in shown:
            return MembershipStanding(member_of_year=False, member_of_next_year=True)
        return MembershipStanding(
            member_of_year=False,
            member_of_next_year=await self._ask(slug, next_year, municipality_code),
        )

    async def _ask(self, network_slug: str, year: int, municipality_code: str) -> bool:
        self.lookups += 1
        MEMBERSHIP_LOOKUPS.inc()
        status = await self.lookup.status(network_slug, year, municipality_code)
        if status != "active":
            return False
        await self.view.remember_active(network_slug, year, municipality_code)
        return True
