"""The :class:`OutreachStreams` port on the kernel's PostgreSQL event store.

An invitation's contact (the address the operator gave) is sealed here, as a membership's
contact person is, with a retention hold until the end of the invitation's year plus the
retention period; erasing the person makes it unreadable everywhere (docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from contracts.base import EventPayload
from contracts.catalog import registry
from contracts.outreach import AREA_LIST_TOPIC, INVITATION_TOPIC, AreaListPublished
from services.kernel.eventstore import NewEvent
from services.membership.adapters.outreach_translation import (
    area_list_event,
    area_list_payload,
    invitation_event,
    invitation_payload,
)
from services.membership.adapters.streams import PostgresStreams
from services.membership.domain import area_lists as da
from services.membership.domain import invitations as di


class PostgresOutreachStreams(PostgresStreams):
    """Lists and invitations, beside memberships and networks, on one connection."""

    async def load_area_list(self, list_date: date) -> tuple[da.AreaList | None, int]:
        state: da.AreaList | None = None
        version = 0
        for recorded in await self.store.read_stream(self.conn, da.area_list_stream_id(list_date)):
            payload = registry.parse(recorded.type, recorded.data)
            if isinstance(payload, AreaListPublished):
                state = da.evolve(state, area_list_event(payload))
            version = recorded.version
        return state, version

    async def append_area_list(
        self, list_date: date, expected_version: int, events: Sequence[da.AreaListPublished]
    ) -> None:
        new = [_stored(area_list_payload(e), e.occurred_at) for e in events]
        await self.append_new(
            da.area_list_stream_id(list_date), expected_version, new, AREA_LIST_TOPIC
        )

    async def load_invitation(self, invitation_id: str) -> tuple[di.Invitation | None, int]:
        """The invitation's state; its contact is not opened (no use case needs it)."""
        state: di.Invitation | None = None
        version = 0
        for recorded in await self.store.read_stream(self.conn, invitation_id):
            event = invitation_event(registry.parse(recorded.type, recorded.data))
            if event is not None:
                state = di.evolve(state, event)
            version = recorded.version
        return state, version

    async def append_invitation(
        self, invitation_id: str, expected_version: int, events: Sequence[di.InvitationEvent]
    ) -> None:
        new = []
        for event in events:
            sealed = await self.seal_contact(
                event.contact, f"invitation:{event.invitation_id}", event.year
            )
            new.append(_stored(invitation_payload(event, sealed), event.occurred_at))
        await self.append_new(invitation_id, expected_version, new, INVITATION_TOPIC)


def _stored(payload: EventPayload, occurred_at: datetime) -> NewEvent:
    """The event store entry of a payload; its CloudEvents time is when it happened."""
    return NewEvent(type(payload).type_name(), payload.to_data(), time=occurred_at)
