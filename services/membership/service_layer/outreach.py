"""Use cases that read the outreach: per list year, the network's statistics, a
municipality's listed areas and invitations. All answer from the read models."""

from __future__ import annotations

from dataclasses import dataclass

from services.membership.domain.area_lists import AreaList, ListedArea
from services.membership.domain.errors import UnknownAreaListError
from services.membership.domain.invitations import Invitation
from services.membership.domain.outreach import OutreachReport, outreach
from services.membership.domain.statistics import Statistics, statistics
from services.membership.service_layer.ports import OutreachViews


async def outreach_of_year(
    views: OutreachViews, network_slug: str, list_year: int
) -> OutreachReport:
    """The outreach of the list of 1 December ``list_year``."""
    lists = [a for a in await views.area_lists() if a.list_date.year == list_year]
    if not lists:
        raise UnknownAreaListError(list_year)
    return outreach(
        network_slug,
        lists[-1],
        await views.members(network_slug),
        await views.invitations(network_slug),
        await views.meetings(network_slug),
    )


async def network_statistics(views: OutreachViews, network_slug: str) -> Statistics:
    return statistics(
        network_slug,
        await views.area_lists(),
        await views.members(network_slug),
        await views.invitations(network_slug),
        await views.meetings(network_slug),
    )


@dataclass(frozen=True)
class ListedAreas:
    """A municipality's areas on one list."""

    area_list: AreaList
    areas: tuple[ListedArea, ...]


async def areas_of_municipality(views: OutreachViews, municipality_code: str) -> list[ListedAreas]:
    """The municipality's areas on every list that names it, newest list first."""
    found = []
    for area_list in reversed(await views.area_lists()):
        areas = tuple(r for r in area_list.rows if r.municipality_code == municipality_code)
        if areas:
            found.append(ListedAreas(area_list, areas))
    return found


async def invitations_of_municipality(
    views: OutreachViews, municipality_code: str
) -> list[Invitation]:
    invitations = await views.invitations(municipality_code=municipality_code)
    return sorted(invitations, key=lambda i: (i.year, i.network_slug), reverse=True)
