"""Translation between the domain's events and the published contract (contracts.membership).

The contact person travels sealed (``contact_person_id``, ``contact_sealed``): the caller
seals before and opens after (see ``streams.py``); this module only maps fields.
"""

from __future__ import annotations

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


def to_contract(
    event: dm.MembershipEvent | dm.NetworkCreated, contact: SealedContact | None = None
) -> EventPayload:
    """The contract payload of a domain event; ``contact``: its contact person, sealed."""
    if isinstance(event, dm.NetworkCreated):
        return cm.NetworkCreated(
            slug=event.slug,
            name=event.name,
            description=event.description,
            yearly_fee_dkk=event.yearly_fee_dkk,
            occurred_at=event.occurred_at,
        )
    common = {
        "membership_id": event.membership_id,
        "network_slug": event.network_slug,
        "municipality_code": event.municipality_code,
        "year": event.year,
        "occurred_at": event.occurred_at,
    }
    sealed = {}
    if contact is not None:
        sealed = {"contact_person_id": contact[0], "contact_sealed": contact[1]}
    if isinstance(event, dm.MembershipJoined):
        return cm.MembershipJoined(
            **common,
            **sealed,
            municipality_name=event.municipality_name,
            ean=event.ean,
            fee_dkk=event.fee_dkk,
        )
    if isinstance(event, dm.MembershipRenewed):
        return cm.MembershipRenewed(
            **common,
            **sealed,
            renewed_from=event.renewed_from,
            municipality_name=event.municipality_name,
            ean=event.ean,
            fee_dkk=event.fee_dkk,
        )
    if isinstance(event, dm.MembershipCancelled):
        return cm.MembershipCancelled(**common, reason=event.reason)
    return cm.MembershipContactChanged(**common, **sealed)


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
    if isinstance(payload, cm.MembershipJoined):
        return dm.MembershipJoined(
            membership_id=payload.membership_id,
            network_slug=payload.network_slug,
            municipality_code=payload.municipality_code,
            municipality_name=payload.municipality_name,
            year=payload.year,
            contact=contact,
            ean=payload.ean,
            fee_dkk=payload.fee_dkk,
            occurred_at=payload.occurred_at,
        )
    if isinstance(payload, cm.MembershipRenewed):
        return dm.MembershipRenewed(
            membership_id=payload.membership_id,
            network_slug=payload.network_slug,
            municipality_code=payload.municipality_code,
            municipality_name=payload.municipality_name,
            year=payload.year,
            contact=contact,
            ean=payload.ean,
            fee_dkk=payload.fee_dkk,
            renewed_from=payload.renewed_from,
            occurred_at=payload.occurred_at,
        )
    if isinstance(payload, cm.MembershipCancelled):
        return dm.MembershipCancelled(
            membership_id=payload.membership_id,
            network_slug=payload.network_slug,
            municipality_code=payload.municipality_code,
            year=payload.year,
            reason=payload.reason,
            occurred_at=payload.occurred_at,
        )
    if isinstance(payload, cm.MembershipContactChanged):
        return dm.MembershipContactChanged(
            membership_id=payload.membership_id,
            network_slug=payload.network_slug,
            municipality_code=payload.municipality_code,
            year=payload.year,
            contact=contact,
            occurred_at=payload.occurred_at,
        )
    return None


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
        slug=payload.slug,
        name=payload.name,
        description=payload.description,
        yearly_fee_dkk=payload.yearly_fee_dkk,
        occurred_at=payload.occurred_at,
    )
