"""What the use cases need from storage, as Protocols (Postgres in production, fakes in tests)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from services.kernel.refusals import Refusal
from services.membership.domain.area_lists import AreaList, AreaListPublished
from services.membership.domain.invitations import Invitation, InvitationEvent
from services.membership.domain.meeting_facts import MeetingState
from services.membership.domain.model import (
    Membership,
    MembershipEvent,
    Network,
    NetworkCreated,
)
from services.membership.domain.outreach import MemberFact


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


class OutreachStreams(Streams, Protocol):
    """The event streams of the lists and the invitations (and of memberships, to see who
    is a member), with optimistic versioning: an append at a version that moved raises
    :class:`ConcurrencyError`."""

    async def load_area_list(self, list_date: date) -> tuple[AreaList | None, int]: ...

    async def append_area_list(
        self, list_date: date, expected_version: int, events: Sequence[AreaListPublished]
    ) -> None: ...

    async def load_invitation(self, invitation_id: str) -> tuple[Invitation | None, int]: ...

    async def append_invitation(
        self, invitation_id: str, expected_version: int, events: Sequence[InvitationEvent]
    ) -> None: ...


class OutreachViews(Protocol):
    """The read models the outreach is computed from (fed by the service's subscriptions;
    eventually consistent)."""

    async def area_lists(self) -> list[AreaList]:
        """Every list, in its latest revision, oldest first."""
        ...

    async def members(self, network_slug: str) -> list[MemberFact]: ...

    async def invitations(
        self, network_slug: str | None = None, municipality_code: str | None = None
    ) -> list[Invitation]: ...

    async def meetings(self, network_slug: str | None = None) -> dict[str, MeetingState]:
        """The meetings the meetings topic told of (of one network, or all)."""
        ...
