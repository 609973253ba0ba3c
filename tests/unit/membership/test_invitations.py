"""Inviting the listed municipalities that are not members (use case over in-memory ports)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.kernel.clock import ManualClock
from services.membership.domain.area_lists import RawRow
from services.membership.domain.errors import (
    InvitationsInvalidError,
    OfferMeetingError,
    UnknownAreaListError,
)
from services.membership.domain.invitations import InvitationReminded, InvitationRequest
from services.membership.domain.meeting_facts import FactKind, MeetingFact
from services.membership.domain.model import Contact
from services.membership.service_layer import handlers
from services.membership.service_layer.area_lists import import_area_list
from services.membership.service_layer.invitations import InvitationsOutcome, invite
from services.membership.service_layer.seed import seed_networks
from tests.unit.membership.outreach_fakes import FakeOutreachStreams, FakeOutreachViews

CPH = ZoneInfo("Europe/Copenhagen")
OUTREACH_DAY = datetime(2021, 12, 2, 10, 0, tzinfo=CPH)
LIST_DATE = date(2021, 12, 1)
MEETING = "meeting-knub-2021-3"


def row(line: int, code: str, area: str, category: str = "udsat") -> RawRow:
    return RawRow(
        line,
        {
            "list_date": "2021-12-01",
            "category": category,
            "area": area,
            "municipality_code": code,
            "municipality": "",
        },
    )


def offer_meeting(offer: bool = True, starts: datetime | None = None) -> list[MeetingFact]:
    return [
        MeetingFact(
            MEETING,
            FactKind.SCHEDULED,
            OUTREACH_DAY - timedelta(days=13),
            network_slug="knub",
            year=2021,
            title="3. netværksmøde 2021",
            starts_at=starts or datetime(2021, 12, 8, 9, 30, tzinfo=CPH),
            seats=80,
            offer=offer,
        )
    ]


class World:
    def __init__(self, facts: list[MeetingFact] | None = None) -> None:
        self.streams = FakeOutreachStreams()
        self.clock = ManualClock(OUTREACH_DAY)
        self.views = FakeOutreachViews(facts=offer_meeting() if facts is None else facts)
        self.run(seed_networks(self.streams, self.clock))
        rows = [
            row(2, "461", "Vollsmose", "parallelsamfund"),
            row(3, "461", "Vollsmose"),
            row(4, "159", "Værebro", "forebyggelsesomraade"),
            row(5, "101", "Mjølnerparken"),
        ]
        self.run(import_area_list(self.streams, self.clock, rows, partial=True))
        self.run(
            handlers.join_network(
                self.streams,
                self.clock,
                network_slug="knub",
                municipality_code="101",
                year=2022,
                contact=Contact("Mette", "mette@kk.example.dk"),
                ean="5798000000001",
            )
        )

    def run(self, coroutine: Any) -> Any:
        return asyncio.run(coroutine)

    def invite(self, *codes: str, **options: Any) -> InvitationsOutcome:
        requests = [InvitationRequest(c, Contact("", f"kontakt@{c}.example.dk")) for c in codes]
        outcome: InvitationsOutcome = self.run(
            invite(
                self.streams,
                self.views,
                self.clock,
                network_slug="knub",
                list_date=LIST_DATE,
                requests=requests,
                **options,
            )
        )
        return outcome

    def outcomes(self, done: InvitationsOutcome) -> dict[str, str]:
        return {r.municipality_code: r.outcome.value for r in done.results}


def test_listed_non_members_are_invited_once_each_and_members_are_not() -> None:
    world = World()
    done = world.invite("461", "159", "101")

    assert world.outcomes(done) == {"461": "invited", "159": "invited", "101": "member"}
    assert done.year == 2022
    assert done.meeting is not None
    assert done.meeting.meeting_id == MEETING
    assert set(world.streams.invitations) == {
        "invitation-knub-2022-461",
        "invitation-knub-2022-159",
    }
    [invited] = world.streams.invitations["invitation-knub-2022-461"]
    assert [(a.category.value, a.area) for a in invited.areas] == [
        ("parallelsamfund", "Vollsmose"),
        ("udsat", "Vollsmose"),
    ]
    assert invited.contact.email == "kontakt@461.example.dk"
    assert invited.meeting_id == MEETING


def test_inviting_again_does_nothing_unless_a_reminder_is_asked_for() -> None:
    world = World()
    world.invite("461", "159")

    again = world.invite("461", "159")
    assert world.outcomes(again) == {"461": "already_invited", "159": "already_invited"}
    assert all(len(s) == 1 for s in world.streams.invitations.values())

    world.clock.advance(timedelta(days=1))
    reminded = world.invite("461", reminder=True)
    world.invite("461", reminder=True)
    assert world.outcomes(reminded) == {"461": "reminded"}
    stream = world.streams.invitations["invitation-knub-2022-461"]
    assert [e.reminder for e in stream if isinstance(e, InvitationReminded)] == [1, 2]
    state, _ = world.run(world.streams.load_invitation("invitation-knub-2022-461"))
    assert (state.invited_at, state.reminders) == (OUTREACH_DAY, 2)


@pytest.mark.parametrize(
    ("codes", "field_problem"),
    [
        (("461", "999"), "findes ikke"),
        (("461", "851"), "ingen områder på listen"),
        (("461", "461"), "står allerede som nr. 1"),
    ],
)
def test_a_request_with_a_bad_entry_invites_nobody(
    codes: tuple[str, ...], field_problem: str
) -> None:
    world = World()
    with pytest.raises(InvitationsInvalidError) as refused:
        world.invite(*codes)
    [problem] = refused.value.problems
    assert (problem.index, problem.field) == (1, "municipality_code")
    assert field_problem in problem.message_da
    assert world.streams.invitations == {}


def test_an_unknown_list_is_refused() -> None:
    world = World()
    with pytest.raises(UnknownAreaListError):
        world.run(
            invite(
                world.streams,
                world.views,
                world.clock,
                network_slug="knub",
                list_date=date(2020, 12, 1),
                requests=[InvitationRequest("461", Contact("", "a@b.dk"))],
            )
        )


def test_the_offer_is_named_only_while_a_meeting_carries_it() -> None:
    without = World(facts=offer_meeting(offer=False))
    done = without.invite("461")
    assert done.meeting is None
    [invited] = without.streams.invitations["invitation-knub-2022-461"]
    assert invited.meeting_id is None

    with pytest.raises(OfferMeetingError):
        without.invite("159", meeting_id=MEETING)
    with pytest.raises(OfferMeetingError):
        World().invite("159", meeting_id="meeting-knub-2021-9")
    begun = World(facts=offer_meeting(starts=OUTREACH_DAY - timedelta(hours=1)))
    assert begun.invite("159").meeting is None
