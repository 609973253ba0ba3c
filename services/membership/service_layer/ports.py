"""What the use cases need from storage, as Protocols (Postgres in production, fakes in tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from services.kernel.refusals import Refusal
from services.membership.domain.model import (
    Membership,
    MembershipEvent,
    Network,
    NetworkCreated,
)


class ConcurrencyError(Refusal):
    """The stream moved on since it was loaded: someone else appended first. Nothing written.

    A use case reloads and decides again; only when that keeps failing does a caller see it.
    """

    code = "busy"
    title = "Medlemskabet blev ændret samtidig"
    retry_after = "1"

    def __init__(self, stream_id: str) -> None:
        super().__init__(
            "Medlemskabet blev ændret af en anden lige nu. Prøv igen.",
            "The membership was changed by someone else just now. Try again.",
        )
        self.stream_id = stream_id


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
