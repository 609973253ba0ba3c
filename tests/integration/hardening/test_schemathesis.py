"""Generated requests from each service's own OpenAPI never get a 5xx.

Schemathesis draws valid and invalid requests for every operation (30 per operation and
round, derandomized); every answer must be a documented body or a 4xx problem+json with a
Danish and an English detail and nothing of the internals.
"""

from __future__ import annotations

from tests.integration.hardening.conftest import Api, join, register, schedule_meeting
from tests.integration.hardening.fuzzing import fuzz

# An event stream never ends by itself: it is checked by the events service's own tests.
ENDLESS = {"/meetings/{meeting_id}/availability/stream"}


async def test_membership_answers_every_generated_request_without_a_server_error(
    membership: Api,
) -> None:
    membership_id = await join(membership)

    report = await fuzz(
        membership,
        known={"membership_id": membership_id, "slug": "knub", "code": "101"},
    )

    assert report.failures == [], report.summary()
    assert report.requests > 300, report.summary()


async def test_events_answers_every_generated_request_without_a_server_error(events: Api) -> None:
    meeting_id = await schedule_meeting(events)
    registration_id = await register(events, meeting_id)

    report = await fuzz(
        events,
        known={"meeting_id": meeting_id, "registration_id": registration_id, "code": "751"},
        skip=ENDLESS,
    )

    assert report.failures == [], report.summary()
    assert report.requests > 300, report.summary()


async def test_notifications_answers_every_generated_request_without_a_server_error(
    notifications: Api,
) -> None:
    report = await fuzz(notifications, known={"email": "anne.jensen@aarhus.dk", "code": "751"})

    assert report.failures == [], report.summary()
    assert report.requests > 100, report.summary()
