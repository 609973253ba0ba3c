"""The :class:`~services.events.service_layer.ports.ErasureLog` port on PostgreSQL: an
erasure is ``PersonErased`` in the event store (stream = the person id, published by the
outbox relay), and the sweeper's leader holds an advisory lock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Literal, cast

import asyncpg

from contracts.privacy import PRIVACY_TOPIC, PersonErased
from services.events.service_layer.ports import ConcurrencyError
from services.kernel.db import lock_key
from services.kernel.eventstore import EventStore, NewEvent, StreamVersionConflictError


class _Erasure:
    def __init__(self, conn: asyncpg.Connection, store: EventStore, person_id: str) -> None:
        self.conn = conn
        self.store = store
        self.person_id = person_id

    async def published(self) -> bool:
        return await self.store.stream_version(self.conn, self.person_id) > 0

    async def publish(self, reason: str, at: datetime) -> None:
        payload = PersonErased(
            person_id=self.person_id,
            reason=cast(Literal["request", "retention"], reason),
            occurred_at=at,
        )
        try:
            await self.store.append(
                self.conn,
                stream_id=self.person_id,
                expected_version=0,
                events=[NewEvent(payload.type_name(), payload.to_data(), time=at)],
                topic=PRIVACY_TOPIC,
            )
        except StreamVersionConflictError as exc:
            raise ConcurrencyError(self.person_id) from exc


class PostgresErasureLog:
    def __init__(self, pool: Callable[[], asyncpg.Pool], store: EventStore) -> None:
        self._pool = pool
        self.store = store

    @asynccontextmanager
    async def erasing(self, person_id: str) -> AsyncIterator[_Erasure]:
        async with self._pool().acquire() as conn, conn.transaction():
            yield _Erasure(conn, self.store, person_id)

    @asynccontextmanager
    async def leading(self, name: str) -> AsyncIterator[bool]:
        async with self._pool().acquire() as conn:
            leader = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(name)))
            try:
                yield leader
            finally:
                if leader:
                    await conn.execute("SELECT pg_advisory_unlock($1)", lock_key(name))
