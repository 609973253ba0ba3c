"""What the outreach's use cases need from storage, as Protocols (PostgreSQL, or fakes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from services.membership.domain.area_lists import AreaList, AreaListPublished
from services.membership.domain.invitations import Invitation, InvitationEvent
from services.membership.domain.meeting_facts import MeetingState
from services.membership.domain.outreach import MemberFact
from services.membership.service_layer.ports import Streams


class OutreachStreams(Streams, Protocol):
    """The event streams of the lists and the invitations (and of memberships, to see who
    is a member), with optimistic versioning: an append at a version that moved raises
    :class:`~services.membership.service_layer.ports.ConcurrencyError`."""

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
