"""The outreach's events in the notifications subscription: invitations, and seats.

The wire stays here: an invitation becomes an :class:`InvitationSource` for the
:class:`~services.notifications.service_layer.invitations.Inviter`; a scheduled meeting or a
change of its seats becomes a (meeting id, seats) change.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import meetings as wm
from contracts import outreach as wo
from contracts.base import EventPayload
from services.kernel.subscriber import InboundEvent
from services.notifications.adapters.translation import invitation_issued
from services.notifications.service_layer.invitations import InvitationSource

OUTREACH_ONLY: tuple[type[EventPayload], ...] = (
    wo.MunicipalityInvited,
    wo.InvitationReminded,
    wm.MeetingSeatsChanged,
)
"""Payloads only the inviter reads (a scheduled meeting the notifier reads as well)."""


def outreach_items(
    events: Sequence[InboundEvent],
) -> tuple[list[tuple[str, int]], list[InvitationSource]]:
    """The seat changes and the invitations of a batch, in order."""
    seats: list[tuple[str, int]] = []
    invitations: list[InvitationSource] = []
    for event in events:
        payload = event.payload
        if isinstance(payload, wm.MeetingScheduled | wm.MeetingSeatsChanged):
            seats.append((payload.meeting_id, payload.seats))
        elif isinstance(payload, wo.MunicipalityInvited | wo.InvitationReminded):
            invitations.append(_source(event, payload))
    return seats, invitations


def _source(
    event: InboundEvent, invitation: wo.MunicipalityInvited | wo.InvitationReminded
) -> InvitationSource:
    return InvitationSource(
        str(event.envelope.id),
        (invitation.contact_person_id, invitation.contact_sealed),
        lambda opened: invitation_issued(invitation, opened),
        event.envelope.correlation_id,
    )
