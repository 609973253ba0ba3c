"""The :class:`Streams` port on the kernel's PostgreSQL event store."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from contracts.membership import MEMBERSHIP_TOPIC, NETWORK_TOPIC, NetworkCreated
from services.kernel.eventstore import EventStore, StreamVersionConflictError
from services.membership.adapters.contract import from_recorded, network_event, to_new_event
from services.membership.domain import model as dm
from services.membership.domain.decisions import evolve, network_from
from services.membership.service_layer.ports import ConcurrencyError

SOURCE = "/kl/membership"


class PostgresStreams:
    """Membership and network streams of one connection (and its transaction, if any)."""

    def __init__(self, conn: asyncpg.Connection, store: EventStore) -> None:
        self.conn = conn
        self.store = store

    async def load_membership(self, membership_id: str) -> tuple[dm.Membership | None, int]:
        state: dm.Membership | None = None
        version = 0
        for recorded in await self.store.read_stream(self.conn, membership_id):
            event = from_recorded(recorded)
            if event is not None and not isinstance(event, dm.NetworkCreated):
                state = evolve(state, event)
            version = recorded.version
        return state, version

    async def append_membership(
        self, membership_id: str, expected_version: int, events: Sequence[dm.MembershipEvent]
    ) -> None:
        await self._append(membership_id, expected_version, events, MEMBERSHIP_TOPIC)

    async def load_network(self, slug: str) -> tuple[dm.Network | None, int]:
        network: dm.Network | None = None
        version = 0
        for recorded in await self.store.read_stream(self.conn, dm.network_stream_id(slug)):
            event = from_recorded(recorded)
            if isinstance(event, dm.NetworkCreated):
                network = network_from(event)
            version = recorded.version
        return network, version

    async def append_network(
        self, slug: str, expected_version: int, events: Sequence[dm.NetworkCreated]
    ) -> None:
        await self._append(dm.network_stream_id(slug), expected_version, events, NETWORK_TOPIC)

    async def _append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[dm.MembershipEvent | dm.NetworkCreated],
        topic: str,
    ) -> None:
        try:
            # A savepoint when the caller holds a transaction (Idempotency-Key): a conflict
            # undoes only this append, and the use case can reload and decide again.
            async with self.conn.transaction():
                await self.store.append(
                    self.conn,
                    stream_id=stream_id,
                    expected_version=expected_version,
                    events=[to_new_event(e) for e in events],
                    topic=topic,
                )
        except StreamVersionConflictError as exc:
            raise ConcurrencyError(str(exc)) from exc


async def list_networks(conn: asyncpg.Connection | asyncpg.Pool) -> list[dm.Network]:
    """Every network, oldest first, from the event store."""
    rows = await conn.fetch(
        "SELECT data FROM events WHERE event_type = $1 ORDER BY position",
        NetworkCreated.type_name(),
    )
    return [network_from(network_event(NetworkCreated.model_validate(r["data"]))) for r in rows]
