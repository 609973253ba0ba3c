"""An in-memory implementation of the :class:`Streams` port, for unit tests."""

from __future__ import annotations

from collections.abc import Sequence

from services.membership.domain import model as dm
from services.membership.domain.decisions import network_from, replay
from services.membership.service_layer.ports import ConcurrencyError


class FakeStreams:
    """Streams in dictionaries, with the same optimistic version check as the event store."""

    def __init__(self) -> None:
        self.memberships: dict[str, list[dm.MembershipEvent]] = {}
        self.networks: dict[str, list[dm.NetworkCreated]] = {}

    async def load_membership(self, membership_id: str) -> tuple[dm.Membership | None, int]:
        events = self.memberships.get(membership_id, [])
        return replay(events), len(events)

    async def append_membership(
        self, membership_id: str, expected_version: int, events: Sequence[dm.MembershipEvent]
    ) -> None:
        stream = self.memberships.setdefault(membership_id, [])
        if len(stream) != expected_version:
            raise ConcurrencyError(membership_id)
        stream.extend(events)

    async def load_network(self, slug: str) -> tuple[dm.Network | None, int]:
        events = self.networks.get(slug, [])
        return (network_from(events[0]) if events else None), len(events)

    async def append_network(
        self, slug: str, expected_version: int, events: Sequence[dm.NetworkCreated]
    ) -> None:
        stream = self.networks.setdefault(slug, [])
        if len(stream) != expected_version:
            raise ConcurrencyError(slug)
        stream.extend(events)
