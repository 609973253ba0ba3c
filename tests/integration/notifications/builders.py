"""Source events for the notifications tests, made the way the other services make them:
contract payloads in CloudEvents envelopes (binary mode), produced onto prefixed topics.

Registrations are written with the participant in clear (readable tests) and sealed
through the key vault when published, as the events service seals them at its edge.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from contracts import meetings as m
from contracts import membership as ms
from contracts.base import EventPayload
from contracts.envelope import Envelope, WireMessage, encode
from contracts.privacy import PersonErased
from services.kernel.privacy import PrivacySettings, Vault, seal
from tests.support.stack import KAFKA_BOOTSTRAP

MEETING_ID = "meeting-knub-2021-3"
START = datetime(2021, 12, 8, 8, 30, tzinfo=UTC)  # 09.30 in Copenhagen
NOW = datetime(2021, 11, 22, 9, 0, tzinfo=UTC)


def participant(name: str, email: str, code: str = "751") -> m.Participant:
    return m.Participant(name=name, email=email, job_title="Koordinator", municipality_code=code)


ANNE = participant("Anne Jensen", "anne.jensen@aarhus.dk")
BO = participant("Bo Holm", "bo.holm@odense.dk", "461")


def scheduled(meeting_id: str = MEETING_ID, start: datetime = START) -> m.MeetingScheduled:
    return m.MeetingScheduled(
        meeting_id=meeting_id,
        occurred_at=NOW,
        network_slug="knub",
        year=2021,
        title="3. netværksmøde 2021",
        description="Systematisering af anvisning og udlejning",
        starts_at=start,
        ends_at=start + timedelta(hours=6),
        venue_name="KL-huset",
        venue_address="Weidekampsgade 10, 2300 København S",
        seats=1,
        registration_deadline=start - timedelta(days=7),
    )


def confirmed(
    registration_id: str, who: m.Participant = ANNE, meeting_id: str = MEETING_ID
) -> m.RegistrationConfirmedV1:
    return m.RegistrationConfirmedV1(
        meeting_id=meeting_id,
        occurred_at=NOW,
        registration_id=registration_id,
        participant=who,
        basis="member",
        price_dkk=0,
    )


def waitlisted(
    registration_id: str, who: m.Participant, position: int
) -> m.RegistrationWaitlistedV1:
    return m.RegistrationWaitlistedV1(
        meeting_id=MEETING_ID,
        occurred_at=NOW,
        registration_id=registration_id,
        participant=who,
        basis="member",
        price_dkk=0,
        position=position,
    )


def promoted(registration_id: str, who: m.Participant) -> m.RegistrationPromotedV1:
    return m.RegistrationPromotedV1(
        meeting_id=MEETING_ID, occurred_at=NOW, registration_id=registration_id, participant=who
    )


def cancelled_by_participant(
    registration_id: str,
    who: m.Participant,
    *,
    by: Literal["participant", "municipality", "operator"] = "participant",
    had_seat: bool = True,
) -> m.RegistrationCancelledV1:
    return m.RegistrationCancelledV1(
        meeting_id=MEETING_ID,
        occurred_at=NOW,
        registration_id=registration_id,
        participant=who,
        cancelled_by=by,
        had_seat=had_seat,
    )


def rescheduled(start: datetime) -> m.MeetingRescheduled:
    return m.MeetingRescheduled(
        meeting_id=MEETING_ID,
        occurred_at=NOW,
        starts_at=start,
        ends_at=start + timedelta(hours=6),
        registration_deadline=start - timedelta(days=7),
        venue_name="KL-huset",
        venue_address="Weidekampsgade 10, 2300 København S",
    )


def cancelled_by_operator(registration_id: str, who: m.Participant) -> m.RegistrationCancelledV1:
    return cancelled_by_participant(registration_id, who, by="operator", had_seat=False)


def erased(person_id: str) -> PersonErased:
    return PersonErased(person_id=person_id, reason="request", occurred_at=NOW)


def meeting_cancelled(reason: str = "For få tilmeldte") -> m.MeetingCancelled:
    return m.MeetingCancelled(meeting_id=MEETING_ID, occurred_at=NOW, reason=reason)


def joined(code: str = "101", email: str = "mette.hansen@kk.dk") -> ms.MembershipJoinedV1:
    return ms.MembershipJoinedV1(
        membership_id=f"membership-knub-2022-{code}",
        network_slug="knub",
        municipality_code=code,
        year=2022,
        occurred_at=NOW,
        municipality_name="København",
        contact_name="Mette Hansen",
        contact_email=email,
        ean="5798000000001",
        fee_dkk=7500,
    )


def wire(payload: EventPayload, *, event_id: UUID | None = None) -> WireMessage:
    subject = getattr(payload, "meeting_id", None) or getattr(payload, "membership_id", "x")
    source = "/kl/events" if payload.topic == m.MEETING_TOPIC else "/kl/membership"
    return encode(
        Envelope(
            type=payload.type_name(),
            source=source,
            subject=subject,
            data=payload.to_data(),
            id=event_id or uuid4(),
            time=NOW,
        )
    )


SEALED_OF: dict[type[EventPayload], type[EventPayload]] = {
    m.RegistrationConfirmedV1: m.RegistrationConfirmed,
    m.RegistrationWaitlistedV1: m.RegistrationWaitlisted,
    m.RegistrationPromotedV1: m.RegistrationPromoted,
    m.RegistrationCancelledV1: m.RegistrationCancelled,
}


async def sealed(payload: EventPayload, vault: Vault) -> EventPayload:
    """A registration with its participant in clear, as the events service publishes it:
    the person's id from the vault and the personal fields sealed (other events as given)."""
    if isinstance(payload, ms.MembershipJoinedV1):
        contact = await vault.person_for(str(payload.contact_email))
        data = payload.model_dump(exclude={"contact_name", "contact_email"})
        data["contact_person_id"] = contact.person_id
        data["contact_sealed"] = seal(
            contact.person_id,
            contact.key,
            {"name": payload.contact_name, "email": str(payload.contact_email)},
        )
        return ms.MembershipJoined.model_validate(data)
    v2 = SEALED_OF.get(type(payload))
    if v2 is None:
        return payload
    p: m.Participant = getattr(payload, "participant")  # noqa: B009 - the V1 models have it
    person = await vault.person_for(str(p.email))
    fields = {"name": p.name, "email": str(p.email), "job_title": p.job_title, "note": p.note}
    data = payload.model_dump()
    data["participant"] = m.SealedParticipant(
        person_id=person.person_id,
        municipality_code=p.municipality_code,
        sealed=seal(person.person_id, person.key, fields),
    )
    return v2.model_validate(data)


@dataclass
class Publisher:
    """Produces records onto the test's prefixed topics."""

    producer: AIOKafkaProducer
    prefix: str
    vault: Vault

    async def event(self, payload: EventPayload, *, event_id: UUID | None = None) -> UUID:
        """Publish a payload as a CloudEvent; returns its id (``ce_id``)."""
        message = wire(await sealed(payload, self.vault), event_id=event_id)
        await self.raw(payload.topic, message)
        header = message.header("ce_id")
        assert header is not None
        return UUID(header.decode())

    async def record(
        self, payload: EventPayload, *, offset: int = 0
    ) -> ConsumerRecord[bytes, bytes]:
        """The record a consumer would get for ``payload``, sealed but not published: to
        hand a batch in an order of the test's choosing straight to a subscription (Kafka
        keeps order within a partition only, and a batch mixes topics)."""
        message = wire(await sealed(payload, self.vault))
        return ConsumerRecord(
            topic=self.prefix + payload.topic,
            partition=0,
            offset=offset,
            timestamp=0,
            timestamp_type=0,
            key=message.key,
            value=message.value,
            checksum=None,
            serialized_key_size=len(message.key or b""),
            serialized_value_size=len(message.value),
            headers=list(message.headers),
        )

    async def raw(self, topic: str, message: WireMessage) -> None:
        await self.producer.send_and_wait(
            self.prefix + topic,
            value=message.value,
            key=message.key,
            headers=list(message.headers),
        )


@pytest.fixture
async def publish(topic_prefix: str, fresh_dsn: str) -> AsyncIterator[Publisher]:
    """The tests' vault is the test's own database (as the service's, see conftest)."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all")
    vault = Vault(PrivacySettings(database_url=fresh_dsn))
    await producer.start()
    try:
        yield Publisher(producer, topic_prefix, vault)
    finally:
        await producer.stop()
        await vault.close()
