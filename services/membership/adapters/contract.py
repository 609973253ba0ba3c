"""Translation between the domain's events and the published contract (contracts.membership)."""

from __future__ import annotations

from contracts import membership as cm
from contracts.base import EventPayload, registry
from services.kernel.eventstore import NewEvent, RecordedEvent
from services.membership.domain import model as dm


def to_contract(event: dm.MembershipEvent | dm.NetworkCreated) -> EventPayload:
    """The contract payload of a domain event."""
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
    if isinstance(event, dm.MembershipJoined):
        return cm.MembershipJoined(
            **common,
            municipality_name=event.municipality_name,
            contact_name=event.contact.name,
            contact_email=event.contact.email,
            ean=event.ean,
            fee_dkk=event.fee_dkk,
        )
    if isinstance(event, dm.MembershipRenewed):
        return cm.MembershipRenewed(
            **common,
            renewed_from=event.renewed_from,
            municipality_name=event.municipality_name,
            contact_name=event.contact.name,
            contact_email=event.contact.email,
            ean=event.ean,
            fee_dkk=event.fee_dkk,
        )
    if isinstance(event, dm.MembershipCancelled):
        return cm.MembershipCancelled(**common, reason=event.reason)
    return cm.MembershipContactChanged(
        **common, contact_name=event.contact.name, contact_email=event.contact.email
    )


def to_new_event(event: dm.MembershipEvent | dm.NetworkCreated) -> NewEvent:
    """The event store entry of a domain event; its CloudEvents time is when it happened."""
    payload = to_contract(event)
    return NewEvent(type(payload).type_name(), payload.to_data(), time=event.occurred_at)


def membership_event(payload: EventPayload) -> dm.MembershipEvent | None:
    """The domain event of a membership contract payload (None for other payloads)."""
    if isinstance(payload, cm.MembershipJoined):
        return dm.MembershipJoined(
            membership_id=payload.membership_id,
            network_slug=payload.network_slug,
            municipality_code=payload.municipality_code,
            municipality_name=payload.municipality_name,
            year=payload.year,
            contact=dm.Contact(payload.contact_name, str(payload.contact_email)),
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
            contact=dm.Contact(payload.contact_name, str(payload.contact_email)),
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
            contact=dm.Contact(payload.contact_name, str(payload.contact_email)),
            occurred_at=payload.occurred_at,
        )
    return None


def from_recorded(event: RecordedEvent) -> dm.MembershipEvent | dm.NetworkCreated | None:
    """The domain event of a stored event (None for a type this service does not read)."""
    payload = registry.parse(event.type, event.data)
    if isinstance(payload, cm.NetworkCreated):
        return network_event(payload)
    return membership_event(payload)


def network_event(payload: cm.NetworkCreated) -> dm.NetworkCreated:
    return dm.NetworkCreated(
        slug=payload.slug,
        name=payload.name,
        description=payload.description,
        yearly_fee_dkk=payload.yearly_fee_dkk,
        occurred_at=payload.occurred_at,
    )
