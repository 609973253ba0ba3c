"""The use cases: load the stream, let the domain decide, append at the expected version.

On a version conflict a use case reloads and decides again (bounded): for a join, a
conflict on an empty stream means someone else created the membership a moment ago, and
the reload returns theirs, so concurrent joins give exactly one membership.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from services.kernel.clock import Clock
from services.membership.domain.decisions import (
    decide,
    decide_network,
    decide_renewal,
    evolve,
    network_from,
    renewal_target,
)
from services.membership.domain.errors import (
    MembershipNotFoundError,
    UnknownMunicipalityError,
    UnknownNetworkError,
)
from services.membership.domain.model import (
    CancelMembership,
    ChangeContact,
    Contact,
    CreateNetwork,
    JoinNetwork,
    Membership,
    MembershipCommand,
    Network,
    RenewMembership,
    membership_id,
)
from services.membership.domain.municipalities import municipality
from services.membership.service_layer.ports import ConcurrencyError, Streams

MAX_ATTEMPTS = 5

T = TypeVar("T")
S = TypeVar("S")
E = TypeVar("E")


@dataclass(frozen=True)
class Outcome:
    """A membership after a command; ``changed`` is False when the command was a no-op."""

    membership: Membership
    changed: bool


async def retrying(attempt: Callable[[], Awaitable[T]]) -> T:
    """Run ``attempt``; if someone appended first, again on what they wrote (bounded)."""
    for _ in range(MAX_ATTEMPTS - 1):
        try:
            return await attempt()
        except ConcurrencyError:
            continue  # someone appended first: decide again on what they wrote
    return await attempt()


async def recorded(
    state: S | None,
    events: Sequence[E],
    evolve: Callable[[S | None, E], S | None],
    append: Callable[[Sequence[E]], Awaitable[None]],
) -> S | None:
    """The state after the decided ``events``, which are appended (if there are any)."""
    for event in events:
        state = evolve(state, event)
    if events:
        await append(events)
    return state


async def require_network(streams: Streams, slug: str) -> Network:
    network, _ = await streams.load_network(slug)
    if network is None:
        raise UnknownNetworkError(slug)
    return network


async def _command(streams: Streams, stream_id: str, command: MembershipCommand) -> Outcome:
    async def attempt() -> Outcome:
        state, version = await streams.load_membership(stream_id)
        if state is None and not isinstance(command, JoinNetwork):
            raise MembershipNotFoundError(stream_id)
        events = decide(state, command)
        state = await recorded(
            state, events, evolve, partial(streams.append_membership, stream_id, version)
        )
        assert state is not None
        return Outcome(state, bool(events))

    return await retrying(attempt)


async def join_network(
    streams: Streams,
    clock: Clock,
    *,
    network_slug: str,
    municipality_code: str,
    year: int,
    contact: Contact,
    ean: str,
) -> Outcome:
    """A municipality joins a network for a year; again: the existing membership."""
    network = await require_network(streams, network_slug)
    found = municipality(municipality_code)
    if found is None:
        raise UnknownMunicipalityError(municipality_code)
    command = JoinNetwork(network, found, year, contact, ean, clock.now())
    return await _command(streams, membership_id(network_slug, year, found.code), command)


async def cancel_membership(
    streams: Streams, clock: Clock, *, membership_id: str, reason: str
) -> Outcome:
    return await _command(streams, membership_id, CancelMembership(reason, clock.now()))


async def change_contact(
    streams: Streams, clock: Clock, *, membership_id: str, contact: Contact
) -> Outcome:
    return await _command(streams, membership_id, ChangeContact(contact, clock.now()))


async def renew_membership(streams: Streams, clock: Clock, *, membership_id: str) -> Outcome:
    """Renew into next year: the next year's membership (new, or the existing one)."""

    async def attempt() -> Outcome:
        source, _ = await streams.load_membership(membership_id)
        if source is None:
            raise MembershipNotFoundError(membership_id)
        network = await require_network(streams, source.network_slug)
        target_id = renewal_target(source)
        target, version = await streams.load_membership(target_id)
        events = decide_renewal(source, target, RenewMembership(network, clock.now()))
        target = await recorded(
            target, events, evolve, partial(streams.append_membership, target_id, version)
        )
        assert target is not None
        return Outcome(target, bool(events))

    return await retrying(attempt)


async def create_network(
    streams: Streams,
    clock: Clock,
    *,
    slug: str,
    name: str,
    description: str,
    yearly_fee_dkk: int,
) -> tuple[Network, bool]:
    """Create a network; the same details again return it unchanged."""

    async def attempt() -> tuple[Network, bool]:
        state, version = await streams.load_network(slug)
        command = CreateNetwork(slug, name, description, yearly_fee_dkk, clock.now())
        events = decide_network(state, command)
        if not events:
            assert state is not None
            return state, False
        await streams.append_network(slug, version, events)
        return network_from(events[0]), True

    return await retrying(attempt)
