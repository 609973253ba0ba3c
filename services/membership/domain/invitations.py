"""Inviting the listed municipalities that are not members: who is invited, and when again.

Rules (ours, from the issue):
- An invitation is for a municipality on a list, to join a network for the year after the
  list's (the list of 1 December 2021 invites to 2022). One per network, year and
  municipality: its stream is ``invitation-<network>-<year>-<code>``.
- The contact address is the operator's, given with the command; the system never guesses
  one (it is personal data: sealed in the event, see docs/privacy.md).
- Inviting again does nothing, unless the operator asks for a reminder: that is a new event
  (and a new mail), numbered.
- A municipality that is a member for the year is not invited (nothing to ask for); one
  whose membership of the year is cancelled is not either (rejoining goes through KL).
- An invitation request is checked whole first: a municipality that is unknown, not on the
  list, or named twice refuses the request, and nobody is invited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from services.membership.domain.area_lists import AreaList, Category
from services.membership.domain.errors import InvitationsInvalidError, ItemProblem
from services.membership.domain.model import Contact, Membership
from services.membership.domain.municipalities import municipality


def invitation_id(network_slug: str, year: int, municipality_code: str) -> str:
    """The stream id of the one invitation of a municipality to a network for a year."""
    return f"invitation-{network_slug}-{year}-{municipality_code}"


@dataclass(frozen=True, order=True)
class InvitedArea:
    category: Category
    area: str


@dataclass(frozen=True)
class Invitation:
    invitation_id: str
    network_slug: str
    year: int
    list_date: date
    municipality_code: str
    invited_at: datetime
    meeting_id: str | None = None
    reminders: int = 0
    last_reminded_at: datetime | None = None


class InvitationOutcome(StrEnum):
    INVITED = "invited"
    REMINDED = "reminded"
    ALREADY_INVITED = "already_invited"
    MEMBER = "member"
    CANCELLED_MEMBER = "cancelled_member"


@dataclass(frozen=True)
class InvitationRequest:
    """One entry of an operator's request: a municipality and the address to write to."""

    municipality_code: str
    contact: Contact


@dataclass(frozen=True)
class InviteMunicipality:
    network_slug: str
    year: int
    area_list: AreaList
    municipality_code: str
    meeting_id: str | None
    contact: Contact
    reminder: bool
    at: datetime


@dataclass(frozen=True)
class MunicipalityInvited:
    invitation_id: str
    network_slug: str
    year: int
    list_date: date
    municipality_code: str
    municipality_name: str
    areas: tuple[InvitedArea, ...]
    meeting_id: str | None
    contact: Contact
    occurred_at: datetime


@dataclass(frozen=True)
class InvitationReminded(MunicipalityInvited):
    reminder: int = 1


InvitationEvent = MunicipalityInvited | InvitationReminded


def invitation_year(area_list: AreaList) -> int:
    """The membership year a list's invitations are for: the year after the list's."""
    return area_list.list_date.year + 1


def check_requests(area_list: AreaList, requests: Sequence[InvitationRequest]) -> None:
    """Refuse the whole request if any entry is unknown, not on the list, or repeated."""
    listed = set(area_list.municipality_codes)
    problems: list[ItemProblem] = []
    seen: dict[str, int] = {}
    for index, request in enumerate(requests):
        code = request.municipality_code
        if municipality(code) is None:
            problems.append(
                ItemProblem(
                    index,
                    "municipality_code",
                    f"kommunekoden '{code}' findes ikke",
                    f"there is no municipality with code '{code}'",
                )
            )
        elif code not in listed:
            day = area_list.list_date.isoformat()
            problems.append(
                ItemProblem(
                    index,
                    "municipality_code",
                    f"kommune {code} har ingen områder på listen fra {day}",
                    f"municipality {code} has no areas on the list of {day}",
                )
            )
        elif code in seen:
            problems.append(
                ItemProblem(
                    index,
                    "municipality_code",
                    f"kommune {code} står allerede som nr. {seen[code] + 1}",
                    f"municipality {code} is already no. {seen[code] + 1}",
                )
            )
        seen.setdefault(code, index)
    if not requests:
        problems.append(ItemProblem(0, "municipality_code", "ingen kommuner", "no municipalities"))
    if problems:
        raise InvitationsInvalidError(problems)


def areas_of(area_list: AreaList, municipality_code: str) -> tuple[InvitedArea, ...]:
    return tuple(
        sorted(
            {
                InvitedArea(r.category, r.area)
                for r in area_list.rows
                if r.municipality_code == municipality_code
            }
        )
    )


def decide(
    state: Invitation | None, membership: Membership | None, command: InviteMunicipality
) -> tuple[InvitationOutcome, list[InvitationEvent]]:
    """What inviting a municipality comes to, and the events of it (maybe none)."""
    if membership is not None:
        if membership.is_active:
            return InvitationOutcome.MEMBER, []
        return InvitationOutcome.CANCELLED_MEMBER, []
    if state is not None and not command.reminder:
        return InvitationOutcome.ALREADY_INVITED, []
    found = municipality(command.municipality_code)
    assert found is not None, "checked before (check_requests)"
    invited = MunicipalityInvited(
        invitation_id=invitation_id(command.network_slug, command.year, found.code),
        network_slug=command.network_slug,
        year=command.year,
        list_date=command.area_list.list_date,
        municipality_code=found.code,
        municipality_name=found.name,
        areas=areas_of(command.area_list, found.code),
        meeting_id=command.meeting_id,
        contact=command.contact,
        occurred_at=command.at,
    )
    if state is None:
        return InvitationOutcome.INVITED, [invited]
    reminded = InvitationReminded(**vars(invited), reminder=state.reminders + 1)
    return InvitationOutcome.REMINDED, [reminded]


def evolve(state: Invitation | None, event: InvitationEvent) -> Invitation:
    """The invitation after ``event``."""
    if isinstance(event, InvitationReminded):
        if state is None:  # a reminder without its invitation: a reader tolerates it
            state = _opened(event)
        if event.reminder <= state.reminders:
            return state
        return replace(state, reminders=event.reminder, last_reminded_at=event.occurred_at)
    return state if state is not None else _opened(event)


def _opened(event: MunicipalityInvited) -> Invitation:
    return Invitation(
        invitation_id=event.invitation_id,
        network_slug=event.network_slug,
        year=event.year,
        list_date=event.list_date,
        municipality_code=event.municipality_code,
        invited_at=event.occurred_at,
        meeting_id=event.meeting_id,
    )
