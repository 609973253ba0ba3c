"""What the event store decides before it touches the database."""

from __future__ import annotations

from typing import Any, cast

import asyncpg
import pytest

from services.kernel.eventstore import Append, EventStore, NewEvent, conflicting_stream


class Untouchable:
    """A connection that must not be used."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the database was used ({name})")


def event() -> NewEvent:
    return NewEvent("dk.kl.test.counter.incremented.v1", {"counter": "c", "n": 1})


def test_the_conflicting_stream_is_read_from_the_databases_detail() -> None:
    detail = "Key (stream_id, version)=(notification-1, 1) already exists."
    assert conflicting_stream(detail) == "notification-1"
    assert conflicting_stream("Key (stream_id, version)=(a, b, 12) already exists.") == "a, b"
    assert conflicting_stream("something else") is None
    assert conflicting_stream(None) is None


async def test_the_same_stream_twice_in_one_call_is_refused_before_anything_is_written() -> None:
    store = EventStore(source="/kl/test")
    conn = cast(asyncpg.Connection, Untouchable())
    with pytest.raises(ValueError, match="each stream once"):
        await store.append_many(
            conn, [Append("s", 0, [event()], "t"), Append("s", 1, [event()], "t")]
        )


async def test_nothing_to_append_does_not_touch_the_database() -> None:
    store = EventStore(source="/kl/test")
    conn = cast(asyncpg.Connection, Untouchable())
    assert await store.append_many(conn, []) == []
    assert await store.append_many(conn, [Append("s", 0, [], "t")]) == [[]]
    assert await store.append(conn, stream_id="s", expected_version=0, events=[], topic="t") == []
