"""In-memory implementations of the outreach's ports, for unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.membership.domain import area_lists as da
from services.membership.domain import invitations as di
from services.membership.domain.meeting_facts import MeetingFact, MeetingState, fold
from services.membership.domain.outreach import MemberFact
from services.membership.service_layer.ports import ConcurrencyError
from tests.unit.membership.fakes import FakeStreams


class FakeOutreachStreams(FakeStreams):
    """Lists and invitations in dictionaries, with the event store's version check."""

    def __init__(self) -> None:
        super().__init__()
        self.lists: dict[date, list[da.AreaListPublished]] = {}
        self.invitations: dict[str, list[di.InvitationEvent]] = {}

    async def load_area_list(self, list_date: date) -> tuple[da.AreaList | None, int]:
        state: da.AreaList | None = None
        for event in self.lists.get(list_date, []):
            state = da.evolve(state, event)
        return state, len(self.lists.get(list_date, []))

    async def append_area_list(
        self, list_date: date, expected_version: int, events: Sequence[da.AreaListPublished]
    ) -> None:
        stream = self.lists.setdefault(list_date, [])
        if len(stream) != expected_version:
            raise ConcurrencyError(str(list_date))
        stream.extend(events)

    async def load_invitation(self, invitation_id: str) -> tuple[di.Invitation | None, int]:
        state: di.Invitation | None = None
        for event in self.invitations.get(invitation_id, []):
            state = di.evolve(state, event)
        return state, len(self.invitations.get(invitation_id, []))

    async def append_invitation(
        self, invitation_id: str, expected_version: int, events: Sequence[di.InvitationEvent]
    ) -> None:
        stream = self.invitations.setdefault(invitation_id, [])
        if len(stream) != expected_version:
            raise ConcurrencyError(invitation_id)
        stream.extend(events)


class FakeOutreachViews:
    """Read models as plain lists (the facts the subscription would have written)."""

    def __init__(
        self,
        lists: Sequence[da.AreaList] = (),
        members: Sequence[MemberFact] = (),
        invitations: Sequence[di.Invitation] = (),
        facts: Sequence[MeetingFact] = (),
    ) -> None:
        self.lists = list(lists)
        self.member_facts = list(members)
        self.invitation_list = list(invitations)
        self.facts = list(facts)

    async def area_lists(self) -> list[da.AreaList]:
        return sorted(self.lists, key=lambda a: a.list_date)

    async def members(self, network_slug: str) -> list[MemberFact]:
        return [m for m in self.member_facts if m.network_slug == network_slug]

    async def invitations(
        self, network_slug: str | None = None, municipality_code: str | None = None
    ) -> list[di.Invitation]:
        return [
            i
            for i in self.invitation_list
            if network_slug in (None, i.network_slug)
            and municipality_code in (None, i.municipality_code)
        ]

    async def meetings(self, network_slug: str | None = None) -> dict[str, MeetingState]:
        meetings = fold(self.facts)
        return {k: m for k, m in meetings.items() if network_slug in (None, m.network_slug)}
