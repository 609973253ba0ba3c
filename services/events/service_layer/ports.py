"""Ports (Protocols) the service layer needs from the outside world, and the small values
that travel through them. Adapters implement them; unit tests fake them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from services.events.domain import events as e
from services.events.domain.model import Meeting
from services.kernel.refusals import Refusal

# --- meeting streams ------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingHeader:
    """What never changes after scheduling: the network and the membership year."""

    network_slug: str
    year: int


@dataclass(frozen=True)
class IdempotencyRef:
    """A command's Idempotency-Key: the caller's scope, the key, the request's hash."""

    scope: str
    key: str
    request_hash: str


@dataclass(frozen=True)
class Reply:
    """The answer to one command: what an HTTP client gets (also on an idempotent retry)."""

    status: int
    body: Any
    replayed: bool = False


class ConcurrencyError(Exception):
    """The stream moved on since it was loaded (someone else appended). Nothing written."""


class MeetingReader(Protocol):
    """One meeting's stream, read on one connection."""

    async def version(self) -> int:
        """The stream's version (0: no such stream)."""
        ...

    async def snapshot(self) -> tuple[int, Meeting] | None:
        """The latest snapshot this service can read: (version, state), or None."""
        ...

    async def events_after(self, version: int) -> Sequence[tuple[int, e.Event]]:
        """(version, event) of every event after ``version``, in order."""
        ...


class MeetingDecision(MeetingReader, Protocol):
    """One decision on one meeting: a transaction that holds the meeting's lock (instances
    serialise on it). Everything done through it commits together when the block ends, or
    not at all when it raises."""

    async def replayed(self, ref: IdempotencyRef) -> Reply | None:
        """The first answer to ``ref``'s key, if the request was made before (the key is
        held until the decision ends). Refuses a key reused for another request."""
        ...

    async def remember(self, ref: IdempotencyRef, reply: Reply) -> None:
        """Keep ``reply`` as the answer to ``ref``'s key."""
        ...

    async def append(self, expected_version: int, events: Sequence[e.Event]) -> None:
        """Append at ``expected_version`` (with their outbox rows); :class:`ConcurrencyError`
        if the stream has moved."""
        ...

    async def save_snapshot(self, version: int, state: Meeting) -> None: ...


class MeetingStreams(Protocol):
    """The meetings' event streams, their snapshots and the commands' idempotency records."""

    def reading(self, stream_id: str) -> AbstractAsyncContextManager[MeetingReader]:
        """Read one stream (no lock; what is committed)."""
        ...

    def deciding(self, stream_id: str) -> AbstractAsyncContextManager[MeetingDecision]:
        """Decide on one stream: its lock, and one transaction."""
        ...

    async def header(self, stream_id: str) -> MeetingHeader | None:
        """Network and year of a meeting (from its first event), or None if there is none."""
        ...


# --- memberships ----------------------------------------------------------------------------

MembershipStatus = Literal["active", "cancelled"]


class MembershipServiceUnavailableError(Refusal):
    """The membership service could not be asked; the caller must not guess (503)."""

    code = "membership-unavailable"
    title = "Medlemskab kan ikke afgøres lige nu"
    retry_after = "2"

    def __init__(self, reason: str) -> None:
        super().__init__(
            "Medlemstjenesten svarer ikke, så vi kan ikke afgøre pris og adgang. Intet er "
            "gemt. Prøv igen om lidt.",
            "The membership service does not answer, so price and access cannot be decided."
            " Nothing was saved. Try again shortly.",
        )
        self.args = (reason,)  # what went wrong, for the log
        self.reason = reason


class MembershipLookup(Protocol):
    """The membership service's strongly consistent answer about one membership."""

    async def status(
        self, network_slug: str, year: int, municipality_code: str
    ) -> MembershipStatus | None:
        """``active``/``cancelled``, or None when there is no such membership.

        Raises :class:`MembershipServiceUnavailableError` when the service cannot answer.
        """
        ...


class MembershipView(Protocol):
    """The service's own (eventually consistent) view of memberships."""

    async def active_years(
        self, network_slug: str, municipality_code: str, years: list[int]
    ) -> set[int]:
        """Which of ``years`` the view shows an active membership for."""
        ...

    async def remember_active(self, network_slug: str, year: int, municipality_code: str) -> None:
        """Record a membership the lookup confirmed (never overriding an event's row)."""
        ...


class ViewCompleteness(Protocol):
    """Whether the service's view holds every membership the topic held at a moment."""

    def now(self) -> float:
        """The moment of a question (for :meth:`complete_since`)."""
        ...

    async def complete_since(self, asked_at: float) -> bool:
        """True when the view is shown to hold everything the membership topic held at
        ``asked_at``; False when that cannot be shown in time (the caller then asks)."""
        ...


# --- persons and their retention ------------------------------------------------------------


class Person(Protocol):
    """A person of the vault: their id and data key."""

    @property
    def person_id(self) -> str: ...

    @property
    def key(self) -> bytes: ...


class Holds(Protocol):
    """Retention holds on persons' data (:class:`services.kernel.privacy.retention.Retention`)."""

    async def hold(self, holds: Sequence[tuple[str, str, datetime | None]]) -> None:
        """Add or move holds: (person id, holder, until)."""
        ...

    async def move_holds(self, holder: str, until: datetime | None) -> int:
        """Move every hold of one holder; how many."""
        ...

    async def due(self, now: datetime) -> list[str]:
        """Persons whose holds have all run out at ``now`` (a batch of them)."""
        ...


class KeyVault(Protocol):
    """The key vault, as the use cases need it (:class:`services.kernel.privacy.Vault`)."""

    async def person_for(self, email: str, *, pending_until: datetime | None = None) -> Person:
        """The person of an e-mail (made if new), held "pending" until ``pending_until``."""
        ...

    async def find(self, email: str) -> str | None:
        """The person id of an e-mail, if the vault knows it (never makes one)."""
        ...

    async def known(self, person_id: str) -> bool: ...

    async def erased(self, person_id: str) -> bool: ...

    async def erase(self, person_id: str, reason: str) -> bool:
        """Delete the person's key: everything sealed for them can no longer be opened."""
        ...

    @property
    def retention(self) -> Holds: ...


class MeetingEnds(Protocol):
    """When meetings end, as the read model knows it."""

    async def ends(self, meeting_ids: Collection[str]) -> dict[str, datetime]: ...


# --- erasure --------------------------------------------------------------------------------


class ErasureRecord(Protocol):
    """One person's erasure in the service's event store, inside its transaction."""

    async def published(self) -> bool:
        """Whether the person's erasure was published before."""
        ...

    async def publish(self, reason: str, at: datetime) -> None:
        """Record the erasure to be published (``PersonErased``, with its outbox row);
        :class:`ConcurrencyError` if someone else did at the same moment."""
        ...


class ErasureLog(Protocol):
    """Where erasures are recorded and published, and who sweeps."""

    def erasing(self, person_id: str) -> AbstractAsyncContextManager[ErasureRecord]:
        """One transaction for one person's erasure: it commits when the block ends."""
        ...

    def leading(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Whether this process leads the job ``name`` (one process at a time) for as long
        as the block runs."""
        ...
