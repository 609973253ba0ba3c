"""Contract payloads (the wire) into domain events: the only place that knows both."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from contracts import meetings as wire
from contracts import membership as wire_membership
from contracts import outreach as wire_outreach
from contracts.base import EventPayload
from services.kernel.privacy import ERASED
from services.notifications.domain import events as domain
from services.notifications.domain.invitations import InvitationIssued, greeting_name
from services.notifications.domain.model import AgendaItem, Meeting, Person


def meeting_event(
    payload: EventPayload, person: dict[str, Any] | None = None
) -> domain.MeetingEvent:
    """The domain's view of a meeting or registration event; TypeError for other types.

    ``person``: a registration's opened personal fields; None when the person is erased
    (the participant is then the erased marker, with no e-mail: nothing is sent to them).
    """
    if isinstance(payload, wire.MeetingScheduled):
        return domain.MeetingScheduled(_copied(payload, Meeting, "status", "program"))
    if isinstance(payload, wire.MeetingRescheduled):
        return _copied(payload, domain.MeetingRescheduled)
    if isinstance(payload, wire.MeetingProgramPublished):
        return domain.MeetingProgramChanged(
            meeting_id=payload.meeting_id,
            program=tuple(AgendaItem(i.starts_at, i.title, i.speaker) for i in payload.items),
        )
    if isinstance(payload, wire.MeetingCancelled):
        return domain.MeetingCancelled(meeting_id=payload.meeting_id, reason=payload.reason)
    if isinstance(payload, wire.RegistrationConfirmed):
        return domain.RegistrationConfirmed(
            *_registration(payload, person), basis=payload.basis, price_dkk=payload.price_dkk
        )
    if isinstance(payload, wire.RegistrationWaitlisted):
        return domain.RegistrationWaitlisted(
            *_registration(payload, person),
            position=payload.position,
            basis=payload.basis,
            price_dkk=payload.price_dkk,
        )
    if isinstance(payload, wire.RegistrationPromoted):
        return domain.RegistrationPromoted(*_registration(payload, person))
    if isinstance(payload, wire.RegistrationCancelled):
        return domain.RegistrationCancelled(
            *_registration(payload, person),
            cancelled_by=payload.cancelled_by,
            had_seat=payload.had_seat,
        )
    raise TypeError(f"not a meeting event this service reads: {type(payload).__name__}")


T = TypeVar("T")


def _copied(payload: EventPayload, cls: type[T], *but: str) -> T:
    """``cls`` made of the payload's fields of the same names (but those named ``but``,
    which keep their defaults)."""
    names = (f.name for f in fields(cls) if f.name not in but)  # type: ignore[arg-type]
    return cls(**{name: getattr(payload, name) for name in names})


def _registration(
    payload: wire.RegistrationConfirmed
    | wire.RegistrationWaitlisted
    | wire.RegistrationPromoted
    | wire.RegistrationCancelled,
    person: dict[str, Any] | None,
) -> tuple[str, str, Person, str]:
    p = payload.participant
    who = (
        Person(ERASED, "", p.person_id)
        if person is None
        else Person(str(person["name"]), str(person["email"]), p.person_id)
    )
    return (payload.meeting_id, payload.registration_id, who, p.municipality_code)


REGISTRATION_PAYLOADS = (
    wire.RegistrationConfirmed,
    wire.RegistrationWaitlisted,
    wire.RegistrationPromoted,
    wire.RegistrationCancelled,
)


def membership_started(
    payload: wire_membership.MembershipJoined | wire_membership.MembershipRenewed,
    network_name: str | None,
    contact: dict[str, Any] | None,
) -> domain.MembershipStarted:
    """``contact``: the opened contact person; None when erased (then no welcome is sent)."""
    return domain.MembershipStarted(
        membership_id=payload.membership_id,
        network_slug=payload.network_slug,
        network_name=network_name,
        year=payload.year,
        municipality_code=payload.municipality_code,
        municipality_name=payload.municipality_name,
        contact=(
            Person(ERASED, "", payload.contact_person_id)
            if contact is None
            else Person(str(contact["name"]), str(contact["email"]), payload.contact_person_id)
        ),
        renewed=isinstance(payload, wire_membership.MembershipRenewed),
    )


def invitation_issued(
    payload: wire_outreach.MunicipalityInvited | wire_outreach.InvitationReminded,
    contact: dict[str, Any] | None,
) -> InvitationIssued:
    """``contact``: the opened contact the operator gave; None when erased (nothing sent)."""
    return InvitationIssued(
        invitation_id=payload.invitation_id,
        network_slug=payload.network_slug,
        year=payload.year,
        list_date=payload.list_date,
        municipality_code=payload.municipality_code,
        municipality_name=payload.municipality_name,
        areas=tuple((a.category, a.area) for a in payload.areas),
        meeting_id=payload.meeting_id,
        contact=(
            Person(ERASED, "", payload.contact_person_id)
            if contact is None
            else Person(
                greeting_name(str(contact.get("name") or ""), payload.municipality_name),
                str(contact["email"]),
                payload.contact_person_id,
            )
        ),
        reminder=(payload.reminder if isinstance(payload, wire_outreach.InvitationReminded) else 0),
    )


MEETING_PAYLOADS: tuple[type[EventPayload], ...] = (
    wire.MeetingScheduled,
    wire.MeetingRescheduled,
    wire.MeetingProgramPublished,
    wire.MeetingCancelled,
    wire.RegistrationConfirmed,
    wire.RegistrationWaitlisted,
    wire.RegistrationPromoted,
    wire.RegistrationCancelled,
)
