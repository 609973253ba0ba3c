"""A municipality's standing in a meeting's network: member of the year, of the next year."""

from __future__ import annotations

from prometheus_client import Counter

from services.events.domain.model import MembershipStanding
from services.events.service_layer.ports import (
    MeetingHeader,
    MembershipLookup,
    MembershipView,
    ViewCompleteness,
)

MEMBERSHIP_LOOKUPS = Counter(
    "events_membership_lookups_total",
    "Questions to the membership service (its view could not be shown complete in time)",
)


class EligibilityService:
    """Membership standing from the service's own view of the membership topic.

    A member of the meeting's year is seen in the view and answered at once. Anyone else
    is answered from the view only once it is shown complete (``completeness``): a round
    that started after the question found the view's consumer at the topic's end. The
    membership service answers a join only once the join is on the topic, so a
    municipality that joined a moment ago is never refused or charged as a guest because
    an event was late, and no registration calls the membership service. Only when the
    view cannot be shown complete in time (its consumer far behind, Kafka away) is the
    membership service asked (``lookup``), and if that fails too the caller gets
    :class:`MembershipServiceUnavailableError` (503), never a guess.
    """

    def __init__(
        self, view: MembershipView, lookup: MembershipLookup, completeness: ViewCompleteness
    ) -> None:
        self.view = view
        self.lookup = lookup
        self.completeness = completeness
        self.lookups = 0

    async def standing(self, header: MeetingHeader, municipality_code: str) -> MembershipStanding:
        """Raises MembershipServiceUnavailableError when the answer cannot be known."""
        asked_at = self.completeness.now()
        slug, year, next_year = header.network_slug, header.year, header.year + 1
        shown = await self.view.active_years(slug, municipality_code, [year, next_year])
        if year in shown:
            return MembershipStanding(member_of_year=True, member_of_next_year=next_year in shown)
        if await self.completeness.complete_since(asked_at):
            shown = await self.view.active_years(slug, municipality_code, [year, next_year])
            return MembershipStanding(
                member_of_year=year in shown, member_of_next_year=next_year in shown
            )
        if await self._ask(slug, year, municipality_code):
            return MembershipStanding(member_of_year=True, member_of_next_year=next_year in shown)
        if next_year in shown:
            return MembershipStanding(member_of_year=False, member_of_next_year=True)
        return MembershipStanding(
            member_of_year=False,
            member_of_next_year=await self._ask(slug, next_year, municipality_code),
        )

    async def _ask(self, network_slug: str, year: int, municipality_code: str) -> bool:
        self.lookups += 1
        MEMBERSHIP_LOOKUPS.inc()
        status = await self.lookup.status(network_slug, year, municipality_code)
        if status != "active":
            return False
        await self.view.remember_active(network_slug, year, municipality_code)
        return True
