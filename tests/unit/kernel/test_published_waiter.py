"""A command answers once its events are on Kafka, waits at most its timeout, and after a
timeout the next commands only look once instead of each waiting in full."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from services.kernel.outbox import PublishedWaiter


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class FakePool:
    """Answers the waiter's count of unpublished rows; each look takes 50 ms of the clock.
    ``published_after`` looks, the rows are published (None: never)."""

    def __init__(self, clock: Clock, published_after: int | None) -> None:
        self.clock = clock
        self.published_after = published_after
        self.looks = 0

    async def fetchval(self, query: str, *args: Any) -> int:
        self.looks += 1
        self.clock.t += 0.05
        done = self.published_after is not None and self.looks > self.published_after
        return 0 if done else len(args[0])


def waiter(pool: FakePool, clock: Clock, **kw: Any) -> PublishedWaiter:
    return PublishedWaiter(lambda: pool, clock=clock, **kw)  # type: ignore[arg-type, return-value]


async def test_it_returns_once_the_relay_has_published() -> None:
    clock = Clock()
    pool = FakePool(clock, published_after=3)
    assert await waiter(pool, clock, timeout_s=2.0).wait([uuid4()])
    assert pool.looks == 4


async def test_it_gives_up_at_the_timeout_and_then_only_looks_once() -> None:
    clock = Clock()
    pool = FakePool(clock, published_after=None)
    w = waiter(pool, clock, timeout_s=1.0, degraded_s=30.0)
    assert not await w.wait([uuid4()])
    assert clock.t <= 1.0 + 0.1
    looks = pool.looks
    assert not await w.wait([uuid4()])
    assert pool.looks == looks + 1, "degraded: one look, no waiting"
    pool.published_after = pool.looks  # the relay is back
    assert await w.wait([uuid4()])
    pool.published_after = None
    clock.t += 1
    before = pool.looks
    assert not await w.wait([uuid4()])
    assert pool.looks - before > 1, "after a success it waits in full again"


async def test_nothing_appended_or_kafka_known_away_means_no_wait() -> None:
    clock = Clock()
    pool = FakePool(clock, published_after=None)
    assert await waiter(pool, clock).wait([])
    assert not await waiter(pool, clock, usable=lambda: False).wait([uuid4()])
    assert pool.looks == 0
