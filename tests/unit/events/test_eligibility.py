"""Price and access come from the service's own membership view, and from the membership
service's strongly consistent answer whenever the view does not show the membership yet."""

from __future__ import annotations

import pytest

from services.events.domain.model import MembershipStanding
from services.events.service_layer.meetings import EligibilityService, MeetingHeader
from services.events.service_layer.ports import (
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


async def test_a_member_in_the_view_is_decided_without_asking_the_membership_service() -> None:
    lookup = FakeLookup(down=True)
    service = EligibilityService(FakeView(("knub", 2021, "101")), lookup)
    standing = await service.standing(KNUB_2021, "101")
    assert standing == MembershipStanding(member_of_year=True, member_of_next_year=False)
    assert lookup.asked == []


async def test_a_municipality_that_just_joined_is_found_through_the_lookup_and_remembered() -> None:
    view = FakeView()
    lookup = FakeLookup({("knub", 2022, "147"): "active"})
    service = EligibilityService(view, lookup)
    standing = await service.standing(KNUB_2021, "147")
    assert standing == MembershipStanding(member_of_year=False, member_of_next_year=True)
    assert ("knub", 2022, "147") in view.active
    lookup.asked.clear()
    await service.standing(KNUB_2021, "147")
    assert ("knub", 2022, "147") not in lookup.asked, "the view now knows it"


async def test_a_cancelled_or_unknown_membership_does_not_admit() -> None:
    lookup = FakeLookup({("knub", 2021, "461"): "cancelled"})
    service = EligibilityService(FakeView(), lookup)
    standing = await service.standing(KNUB_2021, "461")
    assert standing == MembershipStanding(member_of_year=False, member_of_next_year=False)
    assert lookup.asked == [("knub", 2021, "461"), ("knub", 2022, "461")]


async def test_an_unreachable_membership_service_is_never_taken_for_a_no() -> None:
    service = EligibilityService(FakeView(), FakeLookup(down=True))
    with pytest.raises(MembershipServiceUnavailableError):
        await service.standing(KNUB_2021, "751")
