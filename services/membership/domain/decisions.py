"""The pure rules: ``decide`` (state, command) -> events; ``evolve`` (state, event) -> state.

Decided here (our rules):
- A membership year must not have ended (year >= the clock's current year) and may be at
  most :data:`MAX_YEARS_AHEAD` years ahead.
- Joining an active membership again returns it unchanged (idempotent, no event).
- Joining a cancelled membership is refused: a cancellation is a decision on the
  municipality's side and possibly already invoiced/credited; undoing it goes through KL.
- Cancelling a cancelled membership is refused (it is a mistake a person should see).
- Renewing needs an active membership; it opens next year's stream. Renewing when next
  year's membership exists and is active returns it unchanged (idempotent).
- Changing the contact needs an active membership; the same contact again is no change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from services.membership.domain.errors import (
    AlreadyCancelledError,
    InvalidEanError,
    MembershipCancelledError,
    MembershipNotFoundError,
    NetworkExistsError,
    YearInPastError,
    YearTooFarAheadError,
)
from services.membership.domain.model import (
    MAX_YEARS_AHEAD,
    CancelMembership,
    CreateNetwork,
    JoinNetwork,
    Membership,
    MembershipCancelled,
    MembershipCommand,
    MembershipContactChanged,
    MembershipEvent,
    MembershipJoined,
    MembershipRenewed,
    Network,
    NetworkCreated,
    RenewMembership,
    Status,
    ean_is_valid,
    membership_id,
)


def check_year(year: int, current_year: int) -> None:
    """Refuse a year that has ended or that is too far ahead."""
    if year < current_year:
        raise YearInPastError(year, current_year)
    if year > current_year + MAX_YEARS_AHEAD:
        raise YearTooFarAheadError(year, current_year + MAX_YEARS_AHEAD)


def decide(state: Membership | None, command: MembershipCommand) -> list[MembershipEvent]:
    """The events a command on one membership stream leads to (empty: nothing changes)."""
    if isinstance(command, JoinNetwork):
        return _join(state, command)
    if state is None:
        raise MembershipNotFoundError(None)
    if isinstance(command, CancelMembership):
        if not state.is_active:
            raise AlreadyCancelledError(state.membership_id)
        return [MembershipCancelled(**_about(state), reason=command.reason, occurred_at=command.at)]
    if not state.is_active:
        raise MembershipCancelledError(state.membership_id)
    if command.contact == state.contact:
        return []
    return [
        MembershipContactChanged(**_about(state), contact=command.contact, occurred_at=command.at)
    ]


def _about(state: Membership) -> dict[str, Any]:
    """Which membership an event is about (its stream's identity)."""
    return {
        "membership_id": state.membership_id,
        "network_slug": state.network_slug,
        "municipality_code": state.municipality_code,
        "year": state.year,
    }


def _join(state: Membership | None, command: JoinNetwork) -> list[MembershipEvent]:
    if not ean_is_valid(command.ean):
        raise InvalidEanError(command.ean)
    check_year(command.year, command.at.year)
    if state is not None:
        if not state.is_active:
            raise MembershipCancelledError(state.membership_id)
        return []
    return [
        MembershipJoined(
            membership_id=membership_id(
                command.network.slug, command.year, command.municipality.code
            ),
            network_slug=command.network.slug,
            municipality_code=command.municipality.code,
            municipality_name=command.municipality.name,
            year=command.year,
            contact=command.contact,
            ean=command.ean,
            fee_dkk=command.network.yearly_fee_dkk,
            occurred_at=command.at,
        )
    ]


def renewal_target(source: Membership) -> str:
    """The membership id a renewal of ``source`` opens."""
    return membership_id(source.network_slug, source.year + 1, source.municipality_code)


def decide_renewal(
    source: Membership, target: Membership | None, command: RenewMembership
) -> list[MembershipEvent]:
    """Renew ``source`` into next year: events for the target (next year's) stream."""
    if not source.is_active:
        raise MembershipCancelledError(source.membership_id)
    check_year(source.year + 1, command.at.year)
    if target is not None:
        if not target.is_active:
            raise MembershipCancelledError(target.membership_id)
        return []
    return [
        MembershipRenewed(
            membership_id=renewal_target(source),
            network_slug=source.network_slug,
            municipality_code=source.municipality_code,
            municipality_name=source.municipality_name,
            year=source.year + 1,
            contact=source.contact,
            ean=source.ean,
            fee_dkk=command.network.yearly_fee_dkk,
            renewed_from=source.membership_id,
            occurred_at=command.at,
        )
    ]


def evolve(state: Membership | None, event: MembershipEvent) -> Membership | None:
    """The membership after ``event``."""
    if isinstance(event, MembershipJoined | MembershipRenewed):
        return Membership(
            membership_id=event.membership_id,
            network_slug=event.network_slug,
            municipality_code=event.municipality_code,
            municipality_name=event.municipality_name,
            year=event.year,
            contact=event.contact,
            ean=event.ean,
            fee_dkk=event.fee_dkk,
            status=Status.ACTIVE,
            joined_at=event.occurred_at,
            renewed_from=event.renewed_from if isinstance(event, MembershipRenewed) else None,
        )
    if state is None:
        return None  # an event without its opening one; a reader tolerates it
    if isinstance(event, MembershipCancelled):
        return replace(
            state,
            status=Status.CANCELLED,
            cancelled_at=event.occurred_at,
            cancel_reason=event.reason,
        )
    return replace(state, contact=event.contact)


def replay(events: Sequence[MembershipEvent]) -> Membership | None:
    state: Membership | None = None
    for event in events:
        state = evolve(state, event)
    return state


def decide_network(state: Network | None, command: CreateNetwork) -> list[NetworkCreated]:
    """Create a network; the same details again change nothing, other details are refused."""
    if state is not None:
        same = (state.name, state.description, state.yearly_fee_dkk) == (
            command.name,
            command.description,
            command.yearly_fee_dkk,
        )
        if same:
            return []
        raise NetworkExistsError(command.slug)
    return [
        NetworkCreated(
            slug=command.slug,
            name=command.name,
            description=command.description,
            yearly_fee_dkk=command.yearly_fee_dkk,
            occurred_at=command.at,
        )
    ]


def network_from(event: NetworkCreated) -> Network:
    return Network(
        slug=event.slug,
        name=event.name,
        description=event.description,
        yearly_fee_dkk=event.yearly_fee_dkk,
        created_at=event.occurred_at,
    )
