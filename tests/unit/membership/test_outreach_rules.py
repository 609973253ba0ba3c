"""The outreach and the statistics: their definitions on a story, and invariants for any.

The story is the issue's: the 2021 list; members for 2021 and 2022; invitations on 2
December; one municipality joins for 2022 and registers for the 8 December meeting with the
offer, and comes; another comes not.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.membership.domain.area_lists import AreaList, Category, ListedArea
from services.membership.domain.invitations import Invitation
from services.membership.domain.meeting_facts import FactKind, MeetingFact, fold
from services.membership.domain.outreach import MemberFact, OutreachStatus, outreach
from services.membership.domain.statistics import ALL_CATEGORIES, statistics

CPH = ZoneInfo("Europe/Copenhagen")
SCHEDULED = datetime(2021, 11, 19, 9, 0, tzinfo=CPH)
INVITED = datetime(2021, 12, 2, 10, 0, tzinfo=CPH)
MEETING_STARTS = datetime(2021, 12, 8, 9, 30, tzinfo=CPH)
MEETING = "meeting-knub-2021-3"

LIST = AreaList(
    list_date=date(2021, 12, 1),
    revision=1,
    partial=True,
    rows=(
        ListedArea(Category.PARALLELSAMFUND, "Vollsmose", "461", "Odense"),
        ListedArea(Category.UDSAT, "Vollsmose", "461", "Odense"),
        ListedArea(Category.FOREBYGGELSESOMRAADE, "Korskærparken", "607", "Fredericia"),
        ListedArea(Category.UDSAT, "Mjølnerparken", "101", "København"),
        ListedArea(Category.UDSAT, "Houlkærvænget", "791", "Viborg"),
    ),
    imported_at=INVITED - timedelta(hours=1),
)


def member(
    code: str, year: int, at: datetime, *, renewed: bool = False, active: bool = True
) -> MemberFact:
    return MemberFact("knub", year, code, active, at, renewed)


def invitation(code: str, at: datetime = INVITED) -> Invitation:
    return Invitation(
        f"invitation-knub-2022-{code}", "knub", 2022, LIST.list_date, code, at, MEETING
    )


def registration(kind: FactKind, rid: str, code: str, at: datetime, basis: str) -> MeetingFact:
    return MeetingFact(MEETING, kind, at, registration_id=rid, municipality_code=code, basis=basis)


FACTS = [
    MeetingFact(
        MEETING,
        FactKind.SCHEDULED,
        SCHEDULED,
        network_slug="knub",
        year=2021,
        title="3. netværksmøde 2021",
        starts_at=MEETING_STARTS,
        seats=2,
        offer=True,
    ),
    registration(FactKind.CONFIRMED, "r1", "461", SCHEDULED, "member"),
    registration(FactKind.CONFIRMED, "r2", "607", INVITED + timedelta(hours=2), "next_year_offer"),
    registration(FactKind.WAITLISTED, "r3", "101", INVITED + timedelta(hours=3), "member"),
    registration(FactKind.REGISTRATION_CANCELLED, "r1", "461", INVITED + timedelta(hours=4), ""),
    registration(FactKind.PROMOTED, "r3", "101", INVITED + timedelta(hours=4), ""),
    MeetingFact(MEETING, FactKind.ATTENDANCE, MEETING_STARTS, registration_id="r2", attended=True),
    MeetingFact(MEETING, FactKind.ATTENDANCE, MEETING_STARTS, registration_id="r3", attended=False),
]
MEMBERS = [
    member("101", 2021, SCHEDULED - timedelta(days=300)),
    member("461", 2021, SCHEDULED - timedelta(days=300)),
    member("101", 2022, INVITED - timedelta(days=1), renewed=True),
    member("607", 2022, INVITED + timedelta(hours=1)),
    member("851", 2022, SCHEDULED + timedelta(hours=1)),  # not listed; joined under the offer
]
INVITATIONS = [invitation("461"), invitation("607")]


def test_the_outreach_shows_the_converted_municipality_and_who_came() -> None:
    report = outreach("knub", LIST, MEMBERS, INVITATIONS, fold(FACTS))
    rows = {r.municipality_code: r for r in report.rows}

    assert report.year == 2022
    assert report.offer_meeting is not None
    assert report.offer_meeting.meeting_id == MEETING
    assert list(rows) == ["101", "461", "607", "791"]
    fredericia = rows["607"]
    assert fredericia.status is OutreachStatus.JOINED
    assert fredericia.converted
    assert fredericia.joined_while_offer_open
    assert (fredericia.invited_at, fredericia.joined_at) == (INVITED, INVITED + timedelta(hours=1))
    assert (fredericia.registered_with_offer, fredericia.staff_came) == (1, True)
    assert fredericia.categories == (Category.FOREBYGGELSESOMRAADE,)

    assert rows["461"].status is OutreachStatus.INVITED
    assert rows["461"].member_in_list_year
    assert rows["461"].staff_registered == 0
    assert rows["101"].status is OutreachStatus.JOINED
    assert not rows["101"].converted
    assert rows["101"].staff_came is False
    # Renewed for 2022 on 1 December: within the offer's window, though not converted.
    assert rows["101"].joined_while_offer_open
    assert rows["791"].status is OutreachStatus.NOT_INVITED
    assert rows["791"].staff_came is None
    assert report.totals() == {
        "listed": 4,
        "not_invited": 1,
        "invited": 1,
        "joined": 2,
        "converted": 1,
        "joined_while_offer_open": 2,
        "staff_came": 1,
    }


def test_the_statistics_split_members_count_the_meeting_and_the_coverage() -> None:
    stats = statistics("knub", [LIST], MEMBERS, INVITATIONS, fold(FACTS))

    by_year = {m.year: m for m in stats.members}
    assert (by_year[2021].members, by_year[2021].new) == (2, 2)
    m2022 = by_year[2022]
    assert (m2022.members, m2022.renewed, m2022.through_offer, m2022.new) == (3, 1, 2, 0)
    [meeting] = stats.meetings
    assert (meeting.seats, meeting.confirmed, meeting.waiting, meeting.promoted) == (2, 2, 0, 1)
    assert (meeting.cancelled, meeting.with_offer) == (1, 1)
    assert (meeting.attended, meeting.no_shows, meeting.no_show_rate) == (1, 1, 0.5)
    coverage = {(c.year, c.category): (c.listed, c.members) for c in stats.coverage}
    assert coverage[(2021, ALL_CATEGORIES)] == (4, 2)
    assert coverage[(2022, ALL_CATEGORIES)] == (4, 2)
    assert coverage[(2022, "forebyggelsesomraade")] == (1, 1)
    assert coverage[(2022, "parallelsamfund")] == (1, 0)


def test_a_join_after_the_meeting_began_is_not_under_the_offer() -> None:
    late = [member("461", 2022, MEETING_STARTS + timedelta(minutes=1))]
    report = outreach("knub", LIST, late, INVITATIONS, fold(FACTS))
    odense = next(r for r in report.rows if r.municipality_code == "461")
    assert odense.converted
    assert not odense.joined_while_offer_open
    assert statistics("knub", [LIST], late, INVITATIONS, fold(FACTS)).members[0].new == 1


# --- Invariants, for any story -----------------------------------------------------------

CODES = ["101", "461", "607", "791", "851"]
moments = st.integers(-20 * 24, 20 * 24).map(lambda h: INVITED + timedelta(hours=h))


@st.composite
def stories(draw: st.DrawFn) -> tuple[list[MemberFact], list[Invitation], list[MeetingFact]]:
    members = [
        member(code, year, draw(moments), renewed=draw(st.booleans()), active=draw(st.booleans()))
        for code in CODES
        for year in (2021, 2022)
        if draw(st.booleans())
    ]
    invitations = [invitation(c, draw(moments)) for c in CODES if draw(st.booleans())]
    facts = [FACTS[0]]
    for n, code in enumerate(draw(st.lists(st.sampled_from(CODES), max_size=8))):
        kind = draw(st.sampled_from([FactKind.CONFIRMED, FactKind.WAITLISTED]))
        basis = draw(st.sampled_from(["member", "next_year_offer"]))
        facts.append(registration(kind, f"r{n}", code, draw(moments), basis))
        follow = draw(st.sampled_from([None, *FactKind]))
        if follow in (FactKind.PROMOTED, FactKind.REGISTRATION_CANCELLED):
            facts.append(registration(follow, f"r{n}", code, draw(moments), ""))
        elif follow is FactKind.ATTENDANCE:
            facts.append(
                MeetingFact(
                    MEETING,
                    follow,
                    MEETING_STARTS,
                    registration_id=f"r{n}",
                    attended=draw(st.booleans()),
                )
            )
    return members, invitations, facts


@settings(max_examples=200, deadline=None)
@given(story=stories())
def test_the_figures_always_add_up(
    story: tuple[list[MemberFact], list[Invitation], list[MeetingFact]],
) -> None:
    members, invitations, facts = story
    meetings = fold(facts)
    report = outreach("knub", LIST, members, invitations, meetings)
    stats = statistics("knub", [LIST], members, invitations, meetings)

    totals = report.totals()
    assert totals["not_invited"] + totals["invited"] + totals["joined"] == totals["listed"]
    for row in report.rows:
        if row.converted:
            assert row.status is OutreachStatus.JOINED
            assert row.invited_at is not None
            assert row.joined_at is not None
            assert row.invited_at <= row.joined_at
        if row.joined_while_offer_open:
            assert row.joined_at is not None
            assert row.joined_at < MEETING_STARTS
        assert row.registered_with_offer <= row.staff_registered
    for year in stats.members:
        assert year.new >= 0
        assert year.new + year.renewed + year.through_offer == year.members
        assert year.members == sum(m.active for m in members if m.year == year.year)
    [meeting] = stats.meetings
    registrations = len(meetings[MEETING].registrations)
    assert meeting.confirmed + meeting.waiting + meeting.cancelled == registrations
    assert meeting.promoted <= registrations
    assert meeting.no_show_rate is None or 0 <= meeting.no_show_rate <= 1
    for cover in stats.coverage:
        assert 0 <= cover.members <= cover.listed
        assert cover.share is not None
        assert 0 <= cover.share <= 1
