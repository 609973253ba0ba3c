"""Ports (Protocols) the service layer needs from the outside world."""

from __future__ import annotations

from typing import Literal, Protocol

MembershipStatus = Literal["active", "cancelled"]


class MembershipServiceUnavailableError(Exception):
    """The membership service could not be asked; the caller must not guess (503)."""


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
