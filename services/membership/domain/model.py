"""Networks and memberships: value objects, aggregate state, commands and events.

One membership per municipality, network and calendar year: the membership id is built
from those three (``membership-<slug>-<year>-<code>``), so the event store's stream
identity is the invariant's guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.membership.domain.municipalities import Municipality

MAX_YEARS_AHEAD = 2
"""How many years after the current one a membership may be signed up for."""


def membership_id(network_slug: str, year: int, municipality_code: str) -> str:
    """The stream id of the one membership of a municipality in a network for a year."""
    return f"membership-{network_slug}-{year}-{municipality_code}"


def network_stream_id(slug: str) -> str:
    return f"network-{slug}"


def ean_is_valid(ean: str) -> bool:
    """A GLN/EAN-13 location number: 13 digits whose last is the GS1 mod-10 check digit."""
    if len(ean) != 13 or not ean.isascii() or not ean.isdigit():
        return False
    digits = [int(c) for c in ean]
    # GS1: from the right, excluding the check digit, weights alternate 3, 1, 3, ...
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == digits[12]


class Status(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Contact:
    """The municipality's contact person for the membership. Personal data: never logged."""

    name: str
    email: str


@dataclass(frozen=True)
class Network:
    """A network of KL that municipalities join for a year."""

    slug: str
    name: str
    description: str
    yearly_fee_dkk: int
    created_at: datetime


@dataclass(frozen=True)
class Membership:
    """A municipality's membership of one network for one calendar year."""

    membership_id: str
    network_slug: str
    municipality_code: str
    municipality_name: str
    year: int
    contact: Contact
    ean: str
    fee_dkk: int
    status: Status
    joined_at: datetime
    renewed_from: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status is Status.ACTIVE


# --- Commands (imperative) -------------------------------------------------------------


@dataclass(frozen=True)
class CreateNetwork:
    slug: str
    name: str
    description: str
    yearly_fee_dkk: int
    at: datetime


@dataclass(frozen=True)
class JoinNetwork:
    network: Network
    municipality: Municipality
    year: int
    contact: Contact
    ean: str
    at: datetime


@dataclass(frozen=True)
class CancelMembership:
    reason: str
    at: datetime


@dataclass(frozen=True)
class RenewMembership:
    network: Network
    at: datetime


@dataclass(frozen=True)
class ChangeContact:
    contact: Contact
    at: datetime


# --- Events (past tense) ---------------------------------------------------------------


@dataclass(frozen=True)
class NetworkCreated:
    slug: str
    name: str
    description: str
    yearly_fee_dkk: int
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class _MembershipOpened:
    """What opens a membership's stream: joining, or renewing into a new year."""

    membership_id: str
    network_slug: str
    municipality_code: str
    municipality_name: str
    year: int
    contact: Contact
    ean: str
    fee_dkk: int
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class MembershipJoined(_MembershipOpened):
    pass


@dataclass(frozen=True, kw_only=True)
class MembershipRenewed(_MembershipOpened):
    """Opens the new year's stream; ``renewed_from`` is the previous year's membership."""

    renewed_from: str


@dataclass(frozen=True)
class MembershipCancelled:
    membership_id: str
    network_slug: str
    municipality_code: str
    year: int
    reason: str
    occurred_at: datetime


@dataclass(frozen=True)
class MembershipContactChanged:
    membership_id: str
    network_slug: str
    municipality_code: str
    year: int
    contact: Contact
    occurred_at: datetime


MembershipEvent = (
    MembershipJoined | MembershipRenewed | MembershipCancelled | MembershipContactChanged
)
MembershipCommand = JoinNetwork | CancelMembership | ChangeContact
"""Commands on one membership stream; renewal spans two (see :func:`decide_renewal`)."""
