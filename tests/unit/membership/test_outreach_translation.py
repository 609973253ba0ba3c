"""What the outreach keeps of each registration event: its kind, registration, municipality
and (where the event has one) basis; never the person."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts import meetings as wm
from contracts.base import EventPayload
from services.membership.adapters.outreach_translation import meeting_fact
from services.membership.domain.meeting_facts import FactKind, MeetingFact

AT = datetime(2021, 12, 1, 9, 0, tzinfo=UTC)
PARTICIPANT = wm.SealedParticipant(
    person_id="person-1", municipality_code="461", sealed="v1.not-opened-here"
)
HEAD = {"meeting_id": "meeting-knub-2021-3", "occurred_at": AT, "registration_id": "reg-1"}


@pytest.mark.parametrize(
    ("payload", "kind", "basis"),
    [
        (
            wm.RegistrationConfirmed(
                **HEAD, participant=PARTICIPANT, basis="next_year_offer", price_dkk=0
            ),
            FactKind.CONFIRMED,
            "next_year_offer",
        ),
        (
            wm.RegistrationWaitlisted(
                **HEAD, participant=PARTICIPANT, basis="guest", price_dkk=500, position=1
            ),
            FactKind.WAITLISTED,
            "guest",
        ),
        (
            wm.RegistrationPromoted(**HEAD, participant=PARTICIPANT),
            FactKind.PROMOTED,
            None,
        ),
        (
            wm.RegistrationCancelled(
                **HEAD, participant=PARTICIPANT, cancelled_by="participant", had_seat=True
            ),
            FactKind.REGISTRATION_CANCELLED,
            None,
        ),
    ],
)
def test_a_registration_event_becomes_a_fact_of_its_kind(
    payload: EventPayload, kind: FactKind, basis: str | None
) -> None:
    assert meeting_fact(payload) == MeetingFact(
        "meeting-knub-2021-3",
        kind,
        AT,
        registration_id="reg-1",
        municipality_code="461",
        basis=basis,
    )
