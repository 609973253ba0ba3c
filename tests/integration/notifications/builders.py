"""Source events for the notifications tests, made the way the other services make them:
contract payloads in CloudEvents envelopes (binary mode), produced onto prefixed topics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer

from contracts import meetings as m
from contracts import membership as ms
from contracts.base import EventPayload
from contracts.envelope import Envelope, WireMessage, encode
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
) -> m.RegistrationConfirmed:
    return m.RegistrationConfirmed(
        meeting_id=meeting_id,
        occurred_at=NOW,
        registration_id=registration_id,
        participant=who,
        basis="member",
        price_dkk=0,
    )


def waitlisted(registration_id: str, who: m.Participant, position: int) -> m.RegistrationWaitlisted:
    return m.RegistrationWaitlisted(
        meeting_id=MEETING_ID,
        occurred_at=NOW,
        registration_id=registration_id,
        participant=who,
        basis="member",
        price_dkk=0,
        position=position,
    )


def promoted(registration_id: str, who: m.Participant) -> m.RegistrationPromoted:
    return m.RegistrationPromoted(
        meeting_id=MEETING_ID, occurred_at=NOW, registration_id=registration_id, participant=who
    )


def cancelled_by_participant(registration_id: str, who: m.Participant) -> m.RegistrationCancelled:
    return m.RegistrationCancelled(
        meeting_id=MEETING_ID,
        occurred_at=NOW,
        registration_id=registration_id,
        participant=who,
        cancelled_by="participant",
        had_seat=True,
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


def meeting_cancelled(reason: str = "For få tilmeldte") -> m.MeetingCancelled:
    return m.MeetingCancelled(meeting_id=MEETING_ID, occurred_at=NOW, reason=reason)


def joined(code: str = "101", email: str = "mette.hansen@kk.dk") -> ms.MembershipJoined:
    return ms.MembershipJoined(
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


@dataclass
class Publisher:
    """Produces records onto the test's prefixed topics."""

    producer: AIOKafkaProducer
    prefix: str

    async def event(self, payload: EventPayload, *, event_id: UUID | None = None) -> UUID:
        """Publish a payload as a CloudEvent; returns its id (``ce_id``)."""
        message = wire(payload, event_id=event_id)
        await self.raw(payload.topic, message)
        header = message.header("ce_id")
        assert header is not None
        return UUID(header.decode())

    async def raw(self, topic: str, message: WireMessage) -> None:
        await self.producer.send_and_wait(
            self.prefix + topic,
            value=message.value,
            key=message.key,
            headers=list(message.headers),
        )


@pytest.fixture
async def publish(topic_prefix: str) -> AsyncIterator[Publisher]:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all")
    await producer.start()
    try:
        yield Publisher(producer, topic_prefix)
    finally:
        await producer.stop()
