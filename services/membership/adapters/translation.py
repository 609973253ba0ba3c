"""Translation between the domain's events and the published contract (contracts.membership).

The contact person travels sealed (``contact_person_id``, ``contact_sealed``): the caller
seals before and opens after (see ``streams.py``); this module only maps fields.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, cast

from contracts import membership as cm
from contracts.base import EventPayload, registry
from services.kernel.eventstore import NewEvent, RecordedEvent
from services.kernel.privacy import ERASED
from services.membership.domain import model as dm

SealedContact = tuple[str, str]
"""(person id, sealed {"name", "email"}) of a contact person."""

ERASED_CONTACT = dm.Contact(ERASED, "")
"""The contact of an erased person (or where the contact is not needed)."""


def contact_fields(contact: dm.Contact) -> dict[str, str]:
    return {"name": contact.name, "email": contact.email}


def contact_of(opened: dict[str, str] | None) -> dm.Contact:
    return ERASED_CONTACT if opened is None else dm.Contact(opened["name"], opened["email"])


def sealed_contact(payload: EventPayload) -> SealedContact | None:
    """The sealed contact a membership payload carries, if any."""
    if isinstance(
        payload, cm.MembershipJoined | cm.MembershipRenewed | cm.MembershipContactChanged
    ):
        return payload.contact_person_id, payload.contact_sealed
    return None


CONTRACT_OF: dict[type[dm.MembershipEvent | dm.NetworkCreated], type[EventPayload]] = {
    dm.MembershipJoined: cm.MembershipJoined,
    dm.MembershipRenewed: cm.MembershipRenewed,
    dm.MembershipCancelled: cm.MembershipCancelled,
    dm.MembershipContactChanged: cm.MembershipContactChanged,
    dm.NetworkCreated: cm.NetworkCreated,
}
"""Each domain event's contract: they name the same fields, but for the contact person,
who travels sealed (``contact_person_id``, ``contact_sealed``)."""
DOMAIN_OF = {contract: event for event, contract in CONTRACT_OF.items()}


def _values(source: object, event: type) -> dict[str, Any]:
    """The fields of the domain event class ``event``, read from ``source``, but the contact."""
    return {f.name: getattr(source, f.name) for f in fields(event) if f.name != "contact"}


def to_contract(
    event: dm.MembershipEvent | dm.NetworkCreated, contact: SealedContact | None = None
) -> EventPayload:
    """The contract payload of a domain event; ``contact``: its contact person, sealed."""
    values = _values(event, type(event))
    if contact is not None:
        values.update(contact_person_id=contact[0], contact_sealed=contact[1])
    return CONTRACT_OF[type(event)](**values)


def to_new_event(
    event: dm.MembershipEvent | dm.NetworkCreated, contact: SealedContact | None = None
) -> NewEvent:
    """The event store entry of a domain event; its CloudEvents time is when it happened."""
    payload = to_contract(event, contact)
    return NewEvent(type(payload).type_name(), payload.to_data(), time=event.occurred_at)


def membership_event(
    payload: EventPayload, contact: dm.Contact = ERASED_CONTACT
) -> dm.MembershipEvent | None:
    """The domain event of a membership contract payload (None for other payloads);
    ``contact``: the opened contact person (the erased marker when erased or not needed)."""
    event = DOMAIN_OF.get(type(payload))
    if event is None or event is dm.NetworkCreated:
        return None
    values = _values(payload, event)
    if "contact" in event.__dataclass_fields__:
        values["contact"] = contact
    return cast(dm.MembershipEvent, event(**values))


def from_recorded(
    event: RecordedEvent, contact: dm.Contact = ERASED_CONTACT
) -> dm.MembershipEvent | dm.NetworkCreated | None:
    """The domain event of a stored event (None for a type this service does not read)."""
    payload = registry.parse(event.type, event.data)
    if isinstance(payload, cm.NetworkCreated):
        return network_event(payload)
    return membership_event(payload, contact)


def network_event(payload: cm.NetworkCreated) -> dm.NetworkCreated:
    return dm.NetworkCreated(
        **{f.name: getattr(payload, f.name) for f in fields(dm.NetworkCreated)}
    )
