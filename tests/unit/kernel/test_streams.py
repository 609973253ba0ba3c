"""Stream caps (per process, per client address) and the shared poll behind live streams."""

from __future__ import annotations

import asyncio

import pytest

from services.kernel.http import ProblemError
from services.kernel.shared_poll import SharedPoll
from services.kernel.stream_limits import StreamLimiter
from tests.support.waiting import wait_until


def test_a_client_gets_429_at_its_cap_and_everyone_503_when_the_process_is_full() -> None:
    limits = StreamLimiter(max_streams=3, max_per_client=2, retry_after_s=7)
    first = limits.admit("10.0.0.1")
    limits.admit("10.0.0.1")
    with pytest.raises(ProblemError) as own_cap:
        limits.admit("10.0.0.1")
    assert (own_cap.value.status, own_cap.value.type_) == (429, "too-many-streams")
    assert own_cap.value.headers == {"Retry-After": "7"}
    limits.admit("10.0.0.2")
    with pytest.raises(ProblemError) as full:
        limits.admit("10.0.0.3")
    assert (full.value.status, full.value.type_) == (503, "streams-full")
    first.release()
    first.release()  # once only
    assert limits.open == 2
    limits.admit("10.0.0.3")
    with pytest.raises(ProblemError):
        limits.admit("10.0.0.4")


async def test_one_poll_per_key_serves_every_listener_and_stops_with_the_last() -> None:
    fetched: list[str] = []
    value = {"taken": 0}

    async def fetch(key: str) -> dict[str, int]:
        fetched.append(key)
        return dict(value)

    poll: SharedPoll[dict[str, int]] = SharedPoll(fetch, 0.01, name="test")
    seen: dict[int, list[int]] = {n: [] for n in range(50)}

    async def listener(n: int) -> None:
        async with poll.listen("meeting-a") as changes:
            async for row in changes:
                seen[n].append(row["taken"])
                if row["taken"] == 2:
                    return

    tasks = [asyncio.create_task(listener(n)) for n in range(50)]

    async def everyone_saw(taken: int) -> bool:
        return all(s and s[-1] == taken for s in seen.values())

    await wait_until(lambda: everyone_saw(0), timeout=5, what="the first value")
    for taken in (1, 2):
        before = len(fetched)
        value["taken"] = taken
        await wait_until(lambda t=taken: everyone_saw(t), timeout=5, what=f"taken={taken}")
        assert len(fetched) - before < 50, "polls do not grow with the listeners"
    await asyncio.gather(*tasks)
    assert set(fetched) == {"meeting-a"}
    assert poll.keys_polled == 0, "the last listener stopped the poll"


async def test_a_listener_that_leaves_early_leaves_the_others_listening() -> None:
    async def fetch(key: str) -> int:
        return 1

    poll: SharedPoll[int] = SharedPoll(fetch, 0.01, name="test")
    async with poll.listen("k") as staying:
        async with poll.listen("k") as leaving:
            assert await anext(leaving) == 1
        assert poll.keys_polled == 1
        assert await anext(staying) == 1
    assert poll.keys_polled == 0
