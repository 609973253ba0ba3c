"""The meeting's serialised, batched decision step, on an in-memory store (fast, no I/O).

The same step runs on PostgreSQL in tests/integration/events (the rush, two instances).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.events.domain import errors
from services.events.domain import events as e
from services.events.domain.model import Meeting
from services.events.service_layer.batching import ConcurrencyExhaustedError, MeetingService
from services.events.service_layer.ports import IdempotencyRef, Reply
from services.kernel.idempotency import IdempotencyKeyReusedError
from tests.support.waiting import wait_until
from tests.unit.events.builders import MEETING, NOW, register, schedule
from tests.unit.events.fakes import FakeMeetingStreams


def seats_left(events: list[e.Event], m: Meeting) -> tuple[int, Any]:
    return 200, {"events": [type(ev).__name__ for ev in events], "free": m.free_seats}


def key(name: str, request: str = "same") -> IdempotencyRef:
    return IdempotencyRef("events:register|coordinator-101", name, request)


async def scheduled(seats: int = 2, **options: Any) -> tuple[FakeMeetingStreams, MeetingService]:
    streams = FakeMeetingStreams()
    service = MeetingService(streams, **options)
    await service.execute(schedule(seats=seats), seats_left)
    return streams, service


async def test_commands_that_arrive_while_a_decision_runs_are_decided_together_next() -> None:
    streams, service = await scheduled(seats=10)
    gate = streams.gate = asyncio.Event()
    first = asyncio.ensure_future(service.execute(register(1), seats_left))
    await asyncio.wait_for(streams.at_gate.wait(), 5)  # the first one's decision runs
    waiting = [asyncio.ensure_future(service.execute(register(n), seats_left)) for n in (2, 3, 4)]

    async def queued() -> bool:
        return service.waiting(MEETING) == 3

    await wait_until(queued, timeout=5, what="three commands waiting")
    gate.set()
    replies = await asyncio.gather(first, *waiting)

    assert [r.body["free"] for r in replies] == [9, 8, 7, 6], "decided in arrival order"
    assert service.batches_decided == 1 + 2, "schedule, the first, then the three together"
    assert streams.decisions == 3
    assert len(streams.streams[MEETING]) == 5


async def test_a_refused_command_writes_nothing_and_the_others_in_its_batch_stand() -> None:
    streams, service = await scheduled(seats=10)
    results = await asyncio.gather(
        service.execute(register(1), seats_left),
        service.execute(register(1, email="p1@kommune.dk"), seats_left),  # the same person
        service.execute(register(2), seats_left),
        return_exceptions=True,
    )

    assert isinstance(results[1], errors.DuplicateRegistrationError)
    assert [type(r) for r in (results[0], results[2])] == [Reply, Reply]
    assert service.batches_decided == 2, "one batch of three"
    events = streams.streams[MEETING]
    registered = [ev.registration_id for ev in events if isinstance(ev, e.RegistrationEvent)]
    assert registered == ["reg-1", "reg-2"]


async def test_a_repeated_idempotency_key_gets_the_first_answer_and_decides_nothing() -> None:
    streams, service = await scheduled(seats=10)
    first = await service.execute(register(1), seats_left, key("k1"))
    again = await service.execute(register(2), seats_left, key("k1"))

    assert (first.replayed, again.replayed) == (False, True)
    assert (again.status, again.body) == (first.status, first.body)
    assert len(streams.streams[MEETING]) == 2, "the retry appended nothing"


async def test_a_key_reused_for_another_request_is_refused_alone_in_its_batch() -> None:
    streams, service = await scheduled(seats=10)
    await service.execute(register(1), seats_left, key("k1", "first request"))
    reused, other = await asyncio.gather(
        service.execute(register(2), seats_left, key("k1", "another request")),
        service.execute(register(3), seats_left, key("k3")),
        return_exceptions=True,
    )

    assert isinstance(reused, IdempotencyKeyReusedError)
    assert isinstance(other, Reply)
    assert not other.replayed
    assert len(streams.streams[MEETING]) == 3


async def test_a_snapshot_is_kept_every_n_events_and_a_new_process_starts_from_it() -> None:
    streams, service = await scheduled(seats=10, snapshot_every=3)
    for n in range(1, 5):
        await service.execute(register(n), seats_left)
    assert streams.snapshots[MEETING][0] == 3, "after the third event, not again before six"

    fresh = MeetingService(streams, snapshot_every=3)
    version, meeting = await fresh.meeting(MEETING)
    _, before = await service.meeting(MEETING)
    assert version == 5
    assert (meeting.seats_taken, list(meeting.registrations)) == (
        before.seats_taken,
        list(before.registrations),
    )


async def test_a_stream_moved_by_another_instance_is_read_again_and_decided_on() -> None:
    streams, service = await scheduled(seats=1)
    await service.execute(register(1), seats_left)
    # Another instance takes the only seat's place in the queue: this one's cache is behind.
    streams.append_elsewhere(
        MEETING,
        e.RegistrationWaitlisted(
            meeting_id=MEETING,
            occurred_at=NOW,
            registration_id="reg-9",
            participant=register(9).participant,
            basis="member",
            price_dkk=0,
            position=1,
        ),
    )
    reply = await service.execute(register(2), seats_left)

    assert reply.body["events"] == ["RegistrationWaitlisted"]
    _, meeting = await service.meeting(MEETING)
    assert meeting.waitlist == ["reg-9", "reg-2"], "decided on what the other instance wrote"


async def test_a_decision_that_fails_fails_its_whole_batch_and_writes_nothing() -> None:
    streams, service = await scheduled(seats=10)
    streams.fail_append = OSError("the database went away")
    results = await asyncio.gather(
        service.execute(register(1), seats_left),
        service.execute(register(2), seats_left),
        return_exceptions=True,
    )

    assert all(isinstance(r, OSError) for r in results)
    assert len(streams.streams[MEETING]) == 1
    reply = await service.execute(register(3), seats_left)
    assert reply.body["free"] == 9, "the next decision starts from what was committed"


async def test_a_stream_that_keeps_moving_is_answered_busy_after_the_attempts() -> None:
    streams, service = await scheduled(seats=10, max_attempts=3)
    streams.moved = 2
    assert (await service.execute(register(1), seats_left)).body["free"] == 9, "third try"

    streams.moved = 3
    with pytest.raises(ConcurrencyExhaustedError):
        await service.execute(register(2), seats_left)
    assert len(streams.streams[MEETING]) == 2, "nothing of the busy one"
