"""The :class:`Streams` port on the kernel's PostgreSQL event store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from contracts.catalog import registry
from contracts.membership import MEMBERSHIP_TOPIC, NETWORK_TOPIC, NetworkCreated
from services.kernel.eventstore import EventStore, NewEvent, StreamVersionConflictError
from services.kernel.privacy import Vault, seal
from services.membership.adapters.translation import (
    ERASED_CONTACT,
    SealedContact,
    contact_fields,
    contact_of,
    from_recorded,
    membership_event,
    network_event,
    sealed_contact,
    to_new_event,
)
from services.membership.domain import model as dm
from services.membership.domain.decisions import evolve, network_from
from services.membership.service_layer.ports import ConcurrencyError

SOURCE = "/kl/membership"
CPH = ZoneInfo("Europe/Copenhagen")


class PostgresStreams:
    """Membership and network streams of one connection (and its transaction, if any)."""

    def __init__(self, conn: asyncpg.Connection, store: EventStore, vault: Vault) -> None:
        self.conn = conn
        self.store = store
        self.vault = vault
        self.appended: list[UUID] = []
        """Ids of the events appended through this object (to wait for their publishing)."""

    async def load_membership(self, membership_id: str) -> tuple[dm.Membership | None, int]:
        """The membership, its contact person opened (the erased marker once erased)."""
        state: dm.Membership | None = None
        version = 0
        records = await self.store.read_stream(self.conn, membership_id)
        payloads = [registry.parse(r.type, r.data) for r in records]
        seals = [sealed_contact(p) for p in payloads]
        present = [s for s in seals if s is not None]
        opened = iter(await self.vault.open_many(present) if present else [])
        for recorded, payload, seal_ in zip(records, payloads, seals, strict=True):
            contact = contact_of(next(opened)) if seal_ is not None else ERASED_CONTACT
            event = membership_event(payload, contact)
            if event is not None:
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
        new = [to_new_event(e, await self._seal(e)) for e in events]
        await self.append_new(stream_id, expected_version, new, topic)

    async def append_new(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent], topic: str
    ) -> None:
        """Append stored events at ``expected_version``; :class:`ConcurrencyError` if the
        stream moved (and nothing of this call is written)."""
        try:
            # A savepoint when the caller holds a transaction (Idempotency-Key): a conflict
            # undoes only this append, and the use case can reload and decide again.
            async with self.conn.transaction():
                recorded = await self.store.append(
                    self.conn,
                    stream_id=stream_id,
                    expected_version=expected_version,
                    events=events,
                    topic=topic,
                )
        except StreamVersionConflictError as exc:
            raise ConcurrencyError(stream_id) from exc
        self.appended.extend(r.id for r in recorded)

    async def _seal(self, event: dm.MembershipEvent | dm.NetworkCreated) -> SealedContact | None:
        """The event's contact person sealed, held until the end of the membership's year."""
        if not isinstance(
            event, dm.MembershipJoined | dm.MembershipRenewed | dm.MembershipContactChanged
        ):
            return None
        return await self.seal_contact(
            event.contact, f"membership:{event.membership_id}", event.year
        )

    async def seal_contact(self, contact: dm.Contact, holder: str, year: int) -> SealedContact:
        """A contact person sealed, with a retention hold on them (``holder``) until the end
        of ``year`` plus the retention period."""
        person = await self.vault.person_for(contact.email)
        until = datetime(year + 1, 1, 1, tzinfo=CPH) + timedelta(
            days=self.vault.settings.retention_days
        )
        await self.vault.retention.hold([(person.person_id, holder, until)])
        return person.person_id, seal(person.person_id, person.key, contact_fields(contact))


async def list_networks(conn: asyncpg.Connection | asyncpg.Pool) -> list[dm.Network]:
    """Every network, oldest first, from the event store."""
    rows = await conn.fetch(
        "SELECT data FROM events WHERE event_type = $1 ORDER BY position",
        NetworkCreated.type_name(),
    )
    return [network_from(network_event(NetworkCreated.model_validate(r["data"]))) for r in rows]
