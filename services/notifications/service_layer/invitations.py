"""Use case: an invitation to join a network becomes a Danish mail to the contact given.

Applied in the subscriber's transaction, after the rest of its batch (so the registrations
and erasures of the batch are in the view): the seats of meetings scheduled or changed are
kept, the invitations' contacts opened with one vault call, each meeting read once, and the
mails queued through the notifier like every other (the texts through its
:class:`~services.notifications.service_layer.ports.Messages`; deliveries, events, feed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.kernel.privacy import SealError
from services.notifications.domain.decisions import UnknownMeetingError
from services.notifications.domain.invitations import InvitationIssued, decide_invitation
from services.notifications.service_layer.handlers import (
    Decided,
    Notifier,
    Opened,
    UnreadableEventError,
)
from services.notifications.service_layer.ports import NotificationStore, SeatCounts


@dataclass(frozen=True)
class InvitationSource:
    """A consumed invitation: its event id, its sealed contact, and how to make the domain
    event once the contact is opened (the edge knows the wire)."""

    event_id: str
    sealed: tuple[str, str]
    translate: Callable[[Opened], InvitationIssued]
    correlation_id: str | None = None


@dataclass(eq=False)
class Inviter:
    """The invitations' use case, queueing through the notifier."""

    notifier: Notifier
    web_url: str
    """Where the web pages are: the municipality's join page, the meeting's page."""

    async def apply(
        self,
        store: NotificationStore,
        seats: SeatCounts,
        seat_changes: Sequence[tuple[str, int]],
        invitations: Sequence[InvitationSource],
    ) -> int:
        """Keep the seats, then queue the invitations' mails; how many were queued.

        ``UnknownMeetingError`` when an invitation names a meeting never scheduled here,
        :class:`UnreadableEventError` when a contact does not open (the subscriber then
        applies the batch one by one, and dead-letters the poison)."""
        await seats.save_seats(seat_changes)
        if not invitations:
            return 0
        try:
            opened = await self.notifier.vault.open_many([i.sealed for i in invitations])
        except SealError as exc:
            raise UnreadableEventError("an invitation's contact does not open") from exc
        events = [i.translate(o) for i, o in zip(invitations, opened, strict=True)]
        wanted = {e.meeting_id for e in events if e.meeting_id is not None}
        meetings = await store.meetings(wanted)
        for meeting_id in wanted - set(meetings):
            raise UnknownMeetingError(meeting_id)
        names = await store.network_names({e.network_slug for e in events})
        left = await seats.seats_left(wanted)
        decided = [
            Decided(
                decide_invitation(
                    event,
                    network_name=names.get(event.network_slug),
                    meeting=meetings.get(event.meeting_id) if event.meeting_id else None,
                    seats_left=left.get(event.meeting_id) if event.meeting_id else None,
                    web_url=self.web_url,
                ),
                source.event_id,
                source.event_id,
                source.correlation_id,
            )
            for source, event in zip(invitations, events, strict=True)
        ]
        return await self.notifier.queue(store, decided, self.notifier.clock.now())
