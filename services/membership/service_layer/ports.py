"""What the use cases need from storage, as Protocols (Postgres in production, fakes in tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from services.membership.domain.model import (
    Membership,
    MembershipEvent,
    Network,
    NetworkCreated,
)


class ConcurrencyError(Exception):
    """The stream moved on since it was loaded: someone else appended first. Nothing written."""


class Streams(Protocol):
    """The event streams of memberships and networks, with optimistic versioning."""

    async def load_membership(self, membership_id: str) -> tuple[Membership | None, int]:
        """The membership's state and stream version (None, 0 if the stream is empty)."""
        ...

    async def append_membership(
        self, membership_id: str, expected_version: int, events: Sequence[MembershipEvent]
    ) -> None:
        """Append at ``expected_version``; raise :class:`ConcurrencyError` if it moved."""
        ...

    async def load_network(self, slug: str) -> tuple[Network | None, int]: ...

    async def append_network(
        self, slug: str, expected_version: int, events: Sequence[NetworkCreated]
    ) -> None: ...
