"""Price and access come from the service's own membership view: a member it shows at once,
anyone else once the view is shown complete (caught up with the membership topic), and the
membership service's strongly consistent answer only when that cannot be shown in time."""

from __future__ import annotations

import pytest

from services.events.domain.model import MembershipStanding
from services.events.service_layer.eligibility import EligibilityService
from services.events.service_layer.ports import (
    MeetingHeader,
    MembershipServiceUnavailableError,
    MembershipStatus,
)

KNUB_2021 = MeetingHeader(network_slug="knub", year=2021)


class FakeView:
    """The MembershipView port in memory."""

    def __init__(self, *active: tuple[str, int, str]) -> None:
        self.active = set(active)

    async def active_years(
        self, network_slug: str, municipality_code: str, years: list[int]
    ) -> set[int]:
        return {y for y in years if (network_slug, y, municipality_code) in self.active}

    async def remember_active(self, network_slug: str, year: int, municipality_code: str) -> None:
        self.active.add((network_slug, year, municipality_code))


class FakeLookup:
    """The MembershipLookup port: what the membership service would say."""

    def __init__(
        self, answers: dict[tuple[str, int, str], MembershipStatus] | None = None, *, down=False
    ) -> None:
        self.answers = answers or {}
        self.down = down
        self.asked: list[tuple[str, int, str]] = []

    async def status(
        self, network_slug: str, year: int, municipality_code: str
    ) -> MembershipStatus | None:
        self.asked.append((network_slug, year, municipality_code))
        if self.down:
            raise MembershipServiceUnavailableError("connection refused")
        return self.answers.get((network_slug, year, municipality_code))


class FakeCompleteness:
    """The ViewCompleteness port: whether the view can be shown complete, and what the
    consumer applies while the caller waits for that (``arriving``)."""

    def __init__(
        self, complete: bool, view: FakeView | None = None, *arriving: tuple[str, int, str]
    ):
        self.complete = complete
        self.view = view
        self.arriving = arriving
        self.asked: list[float] = []

    def now(self) -> float:
        return 42.0

    async def complete_since(self, asked_at: float) -> bool:
        self.asked.append(asked_at)
        if self.view is not None:
            self.view.active.update(self.arriving)
        return self.complete


async def test_a_member_in_the_view_is_decided_without_asking_anyone() -> None:
    lookup = FakeLookup(down=True)
    completeness = FakeCompleteness(False)
    service = EligibilityService(FakeView(("knub", 2021, "101")), lookup, completeness)
    standing = await service.standing(KNUB_2021, "101")
    assert standing == MembershipStanding(member_of_year=True, member_of_next_year=False)
    assert lookup.asked == []
    assert completeness.asked == [], "a member needs no proof that the view is complete"


async def test_a_non_member_is_answered_from_a_complete_view_without_a_lookup() -> None:
    lookup = FakeLookup(down=True)
    completeness = FakeCompleteness(True)
    service = EligibilityService(FakeView(), lookup, completeness)
    standing = await service.standing(KNUB_2021, "751")
    assert standing == MembershipStanding(member_of_year=False, member_of_next_year=False)
    assert lookup.asked == []
    assert completeness.asked == [42.0], "completeness since the question's own moment"


async def test_a_join_the_view_applies_while_the_question_waits_counts() -> None:
    view = FakeView()
    completeness = FakeCompleteness(True, view, ("knub", 2022, "147"))
    service = EligibilityService(view, FakeLookup(down=True), completeness)
    standing = await service.standing(KNUB_2021, "147")
    assert standing == MembershipStanding(member_of_year=False, member_of_next_year=True)


async def test_a_municipality_that_just_joined_is_found_through_the_lookup_and_remembered() -> None:
    view = FakeView()
    lookup = FakeLookup({("knub", 2022, "147"): "active"})
    service = EligibilityService(view, lookup, FakeCompleteness(False))
    standing = await service.standing(KNUB_2021, "147")
    assert standing == MembershipStanding(member_of_year=False, member_of_next_year=True)
    assert ("knub", 2022, "147") in view.active
    lookup.asked.clear()
    await service.standing(KNUB_2021, "147")
    assert ("knub", 2022, "147") not in lookup.asked, "the view now knows it"


async def test_a_cancelled_or_unknown_membership_does_not_admit() -> None:
    lookup = FakeLookup({("knub", 2021, "461"): "cancelled"})
    service = EligibilityService(FakeView(), lookup, FakeCompleteness(False))
    standing = await service.standing(KNUB_2021, "461")
    assert standing == MembershipStanding(member_of_year=False, member_of_next_year=False)
    assert lookup.asked == [("knub", 2021, "461"), ("knub", 2022, "461")]


async def test_an_unreachable_membership_service_is_never_taken_for_a_no() -> None:
    service = EligibilityService(FakeView(), FakeLookup(down=True), FakeCompleteness(False))
    with pytest.raises(MembershipServiceUnavailableError):
        await service.standing(KNUB_2021, "751")
