"""Translation between the outreach's domain and the wire (contracts.outreach, meetings).

The contact of an invitation travels sealed: the caller seals before and opens after (see
``outreach_streams.py``); this module only maps fields. Meeting events become
:class:`MeetingFact` with nothing personal in them (no person id, no sealed text).
"""

from __future__ import annotations

from contracts import meetings as wm
from contracts import outreach as wo
from contracts.base import EventPayload
from services.membership.adapters.translation import ERASED_CONTACT, SealedContact
from services.membership.domain import area_lists as da
from services.membership.domain import invitations as di
from services.membership.domain.meeting_facts import FactKind, MeetingFact
from services.membership.domain.model import Contact


def area_list_payload(event: da.AreaListPublished) -> wo.AreaListPublished:
    return wo.AreaListPublished(
        list_date=event.list_date,
        revision=event.revision,
        partial=event.partial,
        rows=[
            wo.ListedArea(
                category=r.category.value,
                area=r.area,
                municipality_code=r.municipality_code,
                municipality_name=r.municipality_name,
            )
            for r in event.rows
        ],
        occurred_at=event.occurred_at,
    )


def area_list_event(payload: wo.AreaListPublished) -> da.AreaListPublished:
    return da.AreaListPublished(
        list_date=payload.list_date,
        revision=payload.revision,
        partial=payload.partial,
        rows=tuple(
            da.ListedArea(da.Category(r.category), r.area, r.municipality_code, r.municipality_name)
            for r in payload.rows
        ),
        occurred_at=payload.occurred_at,
    )


def invitation_payload(
    event: di.InvitationEvent, contact: SealedContact
) -> wo.MunicipalityInvited | wo.InvitationReminded:
    """The contract payload of an invitation event; ``contact``: its contact, sealed."""
    fields = {
        "invitation_id": event.invitation_id,
        "network_slug": event.network_slug,
        "year": event.year,
        "list_date": event.list_date,
        "municipality_code": event.municipality_code,
        "municipality_name": event.municipality_name,
        "areas": [wo.InvitedArea(category=a.category.value, area=a.area) for a in event.areas],
        "meeting_id": event.meeting_id,
        "contact_person_id": contact[0],
        "contact_sealed": contact[1],
        "occurred_at": event.occurred_at,
    }
    if isinstance(event, di.InvitationReminded):
        return wo.InvitationReminded(**fields, reminder=event.reminder)
    return wo.MunicipalityInvited(**fields)


def invitation_event(
    payload: EventPayload, contact: Contact = ERASED_CONTACT
) -> di.InvitationEvent | None:
    """The domain event of an invitation payload (None for other payloads)."""
    if not isinstance(payload, wo.MunicipalityInvited | wo.InvitationReminded):
        return None
    invited = di.MunicipalityInvited(
        invitation_id=payload.invitation_id,
        network_slug=payload.network_slug,
        year=payload.year,
        list_date=payload.list_date,
        municipality_code=payload.municipality_code,
        municipality_name=payload.municipality_name,
        areas=tuple(di.InvitedArea(da.Category(a.category), a.area) for a in payload.areas),
        meeting_id=payload.meeting_id,
        contact=contact,
        occurred_at=payload.occurred_at,
    )
    if isinstance(payload, wo.InvitationReminded):
        return di.InvitationReminded(**vars(invited), reminder=payload.reminder)
    return invited


MEETING_PAYLOADS: tuple[type[EventPayload], ...] = (
    wm.MeetingScheduled,
    wm.MeetingRescheduled,
    wm.MeetingSeatsChanged,
    wm.MeetingOfferChanged,
    wm.MeetingCancelled,
    wm.RegistrationConfirmed,
    wm.RegistrationWaitlisted,
    wm.RegistrationPromoted,
    wm.RegistrationCancelled,
    wm.AttendanceRecorded,
)
"""The meeting events the outreach counts (the program, for one, it does not need)."""


_REGISTRATION_KINDS: dict[type[EventPayload], FactKind] = {
    wm.RegistrationConfirmed: FactKind.CONFIRMED,
    wm.RegistrationWaitlisted: FactKind.WAITLISTED,
    wm.RegistrationPromoted: FactKind.PROMOTED,
    wm.RegistrationCancelled: FactKind.REGISTRATION_CANCELLED,
}


def meeting_fact(payload: EventPayload) -> MeetingFact | None:
    """What the outreach keeps of a meeting event: counts, never the person."""
    match payload:
        case wm.MeetingScheduled():
            return MeetingFact(
                payload.meeting_id,
                FactKind.SCHEDULED,
                payload.occurred_at,
                network_slug=payload.network_slug,
                year=payload.year,
                title=payload.title,
                starts_at=payload.starts_at,
                seats=payload.seats,
                offer=payload.next_year_members_free,
            )
        case wm.MeetingRescheduled():
            return MeetingFact(
                payload.meeting_id,
                FactKind.RESCHEDULED,
                payload.occurred_at,
                starts_at=payload.starts_at,
            )
        case wm.MeetingSeatsChanged():
            return MeetingFact(
                payload.meeting_id, FactKind.SEATS_CHANGED, payload.occurred_at, seats=payload.seats
            )
        case wm.MeetingOfferChanged():
            return MeetingFact(
                payload.meeting_id,
                FactKind.OFFER_CHANGED,
                payload.occurred_at,
                offer=payload.next_year_members_free,
            )
        case wm.MeetingCancelled():
            return MeetingFact(payload.meeting_id, FactKind.CANCELLED, payload.occurred_at)
        case wm.AttendanceRecorded():
            return MeetingFact(
                payload.meeting_id,
                FactKind.ATTENDANCE,
                payload.occurred_at,
                registration_id=payload.registration_id,
                attended=payload.attended,
            )
        case (
            wm.RegistrationConfirmed()
            | wm.RegistrationWaitlisted()
            | wm.RegistrationPromoted()
            | wm.RegistrationCancelled()
        ):
            return MeetingFact(
                payload.meeting_id,
                _REGISTRATION_KINDS[type(payload)],
                payload.occurred_at,
                registration_id=payload.registration_id,
                municipality_code=payload.participant.municipality_code,
                basis=(
                    payload.basis
                    if isinstance(payload, wm.RegistrationConfirmed | wm.RegistrationWaitlisted)
                    else None
                ),
            )
    return None
