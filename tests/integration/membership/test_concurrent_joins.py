"""One membership per municipality, network and year, however many ask at once."""

from __future__ import annotations

import asyncio
from collections import Counter

from contracts.envelope import decode
from contracts.membership import MEMBERSHIP_TOPIC, MembershipJoined
from tests.integration.membership.conftest import MembershipService, join_body
from tests.support.kafka import read_topic

STREAM = "membership-knub-2022-751"


async def test_fifty_concurrent_joins_make_one_membership_and_one_event(
    service: MembershipService,
) -> None:
    responses = await asyncio.gather(
        *(
            service.client.post("/networks/knub/memberships", json=join_body("751"))
            for _ in range(50)
        )
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 200: 49}, statuses
    assert {r.json()["membership_id"] for r in responses} == {STREAM}
    assert await service.event_count(STREAM) == 1

    await service.all_published()
    records = await read_topic(service.topic_prefix + MEMBERSHIP_TOPIC, expect=1)
    joined = [
        envelope
        for envelope in (decode(r.key, r.headers, r.value) for r in records)
        if envelope.type == MembershipJoined.type_name() and envelope.subject == STREAM
    ]
    assert len(joined) == 1
    assert len(records) == 1


async def test_concurrent_joins_with_the_same_idempotency_key_make_one_membership(
    service: MembershipService,
) -> None:
    responses = await asyncio.gather(
        *(
            service.client.post(
                "/networks/knub/memberships",
                json=join_body("851"),
                headers={"Idempotency-Key": "aalborg-2022"},
            )
            for _ in range(10)
        )
    )
    assert {r.status_code for r in responses} == {201}, "every retry gets the first answer"
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 9
    assert await service.event_count("membership-knub-2022-851") == 1
