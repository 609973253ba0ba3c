"""Use case: invite listed municipalities that are not members, at the operator's addresses.

The request is checked whole first (the list exists, every municipality is on it, once; the
offer's meeting, if named, can carry the offer), then each municipality is decided on its
own stream. The caller runs it in one transaction: all of it is written, or none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial

from services.kernel.clock import Clock
from services.membership.domain.errors import OfferMeetingError, UnknownAreaListError
from services.membership.domain.invitations import (
    Invitation,
    InvitationOutcome,
    InvitationRequest,
    InviteMunicipality,
    check_requests,
    decide,
    evolve,
    invitation_id,
    invitation_year,
)
from services.membership.domain.meeting_facts import MeetingState
from services.membership.domain.model import membership_id
from services.membership.domain.municipalities import BY_CODE
from services.membership.domain.outreach import offer_meeting
from services.membership.service_layer.handlers import recorded, require_network, retrying
from services.membership.service_layer.ports import OutreachStreams, OutreachViews


@dataclass(frozen=True)
class InvitationResult:
    municipality_code: str
    municipality_name: str
    outcome: InvitationOutcome
    invitation: Invitation | None


@dataclass(frozen=True)
class InvitationsOutcome:
    network_slug: str
    year: int
    list_date: date
    meeting: MeetingState | None
    results: list[InvitationResult]


async def invite(
    streams: OutreachStreams,
    views: OutreachViews,
    clock: Clock,
    *,
    network_slug: str,
    list_date: date,
    requests: Sequence[InvitationRequest],
    meeting_id: str | None = None,
    reminder: bool = False,
) -> InvitationsOutcome:
    """Invite each requested municipality (a reminder to those invited, if asked for)."""
    await require_network(streams, network_slug)
    area_list, _ = await streams.load_area_list(list_date)
    if area_list is None:
        raise UnknownAreaListError(list_date)
    check_requests(area_list, requests)
    now = clock.now()
    meeting = await offer_for(views, network_slug, list_date.year, meeting_id, now)
    year = invitation_year(area_list)
    results: list[InvitationResult] = []
    for request in requests:
        code = request.municipality_code
        stream_id = invitation_id(network_slug, year, code)
        command = InviteMunicipality(
            network_slug=network_slug,
            year=year,
            area_list=area_list,
            municipality_code=code,
            meeting_id=meeting.meeting_id if meeting is not None else None,
            contact=request.contact,
            reminder=reminder,
            at=now,
        )

        async def attempt(
            stream_id: str = stream_id, command: InviteMunicipality = command
        ) -> InvitationResult:
            state, version = await streams.load_invitation(stream_id)
            membership, _ = await streams.load_membership(
                membership_id(network_slug, year, command.municipality_code)
            )
            outcome, events = decide(state, membership, command)
            state = await recorded(
                state, events, evolve, partial(streams.append_invitation, stream_id, version)
            )
            code = command.municipality_code
            return InvitationResult(code, BY_CODE[code].name, outcome, state)

        results.append(await retrying(attempt))
    return InvitationsOutcome(network_slug, year, list_date, meeting, results)


async def offer_for(
    views: OutreachViews, network_slug: str, list_year: int, meeting_id: str | None, now: datetime
) -> MeetingState | None:
    """The meeting whose offer the invitations name: ``meeting_id``'s, which must carry
    the offer now and lie ahead; without one, the network's open offer of the list year,
    if there is one (else the invitations name no offer)."""
    meetings = await views.meetings(network_slug)
    if meeting_id is None:
        found = offer_meeting(meetings, network_slug, list_year)
        return found if found is not None and found.offer and found.starts_at > now else None
    meeting = meetings.get(meeting_id)
    if meeting is None:
        raise OfferMeetingError(
            f"Mødet {meeting_id} er ukendt for medlemstjenesten (endnu). Tjek id'et; et møde, "
            "der lige er planlagt, kendes efter et øjeblik.",
            f"The meeting {meeting_id} is not known to the membership service (yet). Check "
            "the id; a meeting scheduled just now is known a moment later.",
        )
    if meeting.network_slug != network_slug or meeting.year != list_year:
        raise OfferMeetingError(
            f"Mødet {meeting_id} er ikke et møde i {network_slug} i {list_year}, listens år.",
            f"The meeting {meeting_id} is not a meeting of {network_slug} in {list_year}, "
            "the list's year.",
        )
    if not meeting.offer or meeting.cancelled or meeting.starts_at <= now:
        raise OfferMeetingError(
            f"Mødet {meeting_id} har ikke tilbuddet til næste års medlemmer lige nu (eller er "
            "aflyst eller begyndt). Sæt tilbuddet på mødet, eller invitér uden møde.",
            f"The meeting {meeting_id} does not carry the offer to next year's members now "
            "(or is cancelled or has begun). Put the offer on it, or invite without a meeting.",
        )
    return meeting
