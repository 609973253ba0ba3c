"""A read model is shown complete only by a round that began after the question, and every
question waiting at a moment shares one round."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from services.kernel.freshness import Partition, ViewFreshness

TOPIC = "kl.membership.memberships"


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class FakeEnds:
    """End offsets of the topic; a round can be held at the gate to interleave questions."""

    def __init__(self, ends: dict[Partition, int], *, fail: bool = False) -> None:
        self.ends = ends
        self.fail = fail
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def end_offsets(self, topics: Sequence[str]) -> dict[Partition, int]:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("Kafka away")
        return dict(self.ends)


class FakeApplied:
    """The consumer's applied offsets; ``catch_up`` moves them on at each round."""

    def __init__(self, applied: dict[Partition, int], *, catch_up: int = 0) -> None:
        self.positions = applied
        self.catch_up = catch_up

    async def applied(self, consumer: str) -> dict[Partition, int]:
        current = dict(self.positions)
        self.positions = {tp: offset + self.catch_up for tp, offset in self.positions.items()}
        return current


def freshness(
    ends: FakeEnds, applied: FakeApplied, clock: Clock, max_wait_s: float = 1.0
) -> ViewFreshness:
    return ViewFreshness(
        "membership", "events-membership-view", [TOPIC], ends, applied,
        max_wait_s=max_wait_s, interval_s=0.001, clock=clock,
    )  # fmt: skip


async def test_a_consumer_at_the_end_is_complete() -> None:
    ends = FakeEnds({(TOPIC, 0): 5, (TOPIC, 1): 0})
    view = freshness(ends, FakeApplied({(TOPIC, 0): 5}), Clock())
    assert await view.complete_since(view.now())
    assert ends.calls == 1


async def test_a_consumer_behind_any_partition_is_not_complete_until_it_catches_up() -> None:
    ends = FakeEnds({(TOPIC, 0): 5, (TOPIC, 1): 9})
    applied = FakeApplied({(TOPIC, 0): 5, (TOPIC, 1): 6}, catch_up=1)
    view = freshness(ends, applied, Clock())
    assert await view.complete_since(view.now())
    assert ends.calls == 4, "behind at 6, 7, 8; complete at 9"


async def test_a_consumer_that_stays_behind_is_not_complete_after_the_wait() -> None:
    clock = Clock()

    class Stuck(FakeApplied):
        async def applied(self, consumer: str) -> dict[Partition, int]:
            clock.t += 0.3  # each round takes a while
            return await super().applied(consumer)

    view = freshness(FakeEnds({(TOPIC, 0): 5}), Stuck({(TOPIC, 0): 4}), clock, max_wait_s=1.0)
    assert not await view.complete_since(view.now())
    assert clock.t <= 1.0 + 0.3


async def test_kafka_or_the_database_away_is_not_complete_at_once() -> None:
    ends = FakeEnds({(TOPIC, 0): 5}, fail=True)
    view = freshness(ends, FakeApplied({(TOPIC, 0): 5}), Clock(), max_wait_s=60)
    assert not await view.complete_since(view.now())
    assert ends.calls == 1, "no waiting for an outage: the caller asks elsewhere"


async def test_a_round_that_began_before_the_question_does_not_answer_it() -> None:
    clock = Clock()
    ends = FakeEnds({(TOPIC, 0): 5})
    ends.gate = asyncio.Event()
    view = freshness(ends, FakeApplied({(TOPIC, 0): 5}), clock)
    early = asyncio.create_task(view.complete_since(view.now()))
    await ends.entered.wait()  # the first round has begun (and waits at the gate)
    clock.t = 0.5  # a join was answered meanwhile; then this question is asked
    late = asyncio.create_task(view.complete_since(view.now()))
    ends.gate.set()
    assert await early
    assert await late
    assert ends.calls == 2, "the late question needed a round of its own"


async def test_questions_asked_together_share_one_round() -> None:
    ends = FakeEnds({(TOPIC, 0): 5})
    ends.gate = asyncio.Event()
    view = freshness(ends, FakeApplied({(TOPIC, 0): 5}), Clock())
    asked = view.now()
    waiting = [asyncio.create_task(view.complete_since(asked)) for _ in range(100)]
    await ends.entered.wait()
    ends.gate.set()
    assert all(await asyncio.gather(*waiting))
    assert ends.calls == 1
