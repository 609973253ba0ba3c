"""/metrics tells an operator how far behind the relay and the consumers are."""

from __future__ import annotations

import re

import httpx

from services.kernel.clock import ManualClock
from services.kernel.kafka import KafkaSettings
from services.membership.bootstrap import Container, bootstrap
from services.membership.entrypoints.subscribers import ROSTER_CONSUMER
from tests.integration.membership.conftest import (
    ANNOUNCEMENT_DAY,
    MembershipService,
    join_body,
    settings_for,
)
from tests.support import auth
from tests.support.stack import KAFKA_BOOTSTRAP
from tests.support.tcp_proxy import counting_proxy
from tests.support.waiting import wait_until


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of a Prometheus text exposition, or None if absent."""
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}(\{{{re.escape(label_text)}\}})? ([0-9.e+-]+)$"
    for line in text.splitlines():
        match = re.match(pattern, line)
        if match and (not labels or match.group(1)):
            return float(match.group(2))
    return None


async def test_metrics_show_events_appended_relay_lag_and_consumer_lag(
    service: MembershipService,
) -> None:
    before = (await service.client.get("/metrics")).text
    joined_before = sample(before, "events_appended_total", type="dk.kl.membership.joined.v2")
    joined = await service.client.post("/networks/knub/memberships", json=join_body("461"))
    assert joined.status_code == 201
    group = service.topic_prefix + ROSTER_CONSUMER

    async def caught_up() -> str | None:
        text = (await service.client.get("/metrics")).text
        lag = sample(
            text,
            "kafka_consumer_lag",
            group=group,
            topic=f"{service.topic_prefix}kl.membership.memberships",
        )
        unpublished = sample(text, "outbox_unpublished")
        return text if lag == 0 and unpublished == 0 else None

    text = await wait_until(caught_up, timeout=30, what="relay and roster consumer caught up")
    appended = sample(text, "events_appended_total", type="dk.kl.membership.joined.v2")
    assert appended == (joined_before or 0) + 1
    assert sample(text, "outbox_relay_lag_seconds") == 0
    assert (
        sample(
            text,
            "http_request_duration_seconds_count",
            method="POST",
            route="/networks/{slug}/memberships",
            status="201",
        )
        is not None
    )


async def test_scraping_metrics_opens_no_kafka_client(fresh_dsn: str, topic_prefix: str) -> None:
    """Anyone may scrape /metrics: a scrape reads gauges computed in the background, and
    opens no connection to Kafka (counted at a proxy in front of the bootstrap address)."""
    async with counting_proxy(KAFKA_BOOTSTRAP) as proxy:
        settings = settings_for(fresh_dsn, topic_prefix).model_copy(
            update={
                "kafka": KafkaSettings(bootstrap_servers=proxy.address, topic_prefix=topic_prefix)
            }
        )
        app = bootstrap(settings, clock=ManualClock(ANNOUNCEMENT_DAY))
        container: Container = app.state.container
        await container.start()
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://membership"
            ) as http:
                joined = await http.post(
                    "/networks/knub/memberships", json=join_body("461"), headers=auth.OPERATOR
                )
                assert joined.status_code == 201, joined.text
                group = topic_prefix + ROSTER_CONSUMER

                async def lag_known() -> bool:
                    text = (await http.get("/metrics")).text
                    return (
                        sample(
                            text,
                            "kafka_consumer_lag",
                            group=group,
                            topic=(f"{topic_prefix}kl.membership.memberships"),
                        )
                        is not None
                    )

                await wait_until(lag_known, timeout=60, what="the consumer lag gauge")
                before = proxy.accepted
                answers = [await http.get("/metrics") for _ in range(20)]
                assert all(a.status_code == 200 for a in answers)
                opened = proxy.accepted - before
                # A background round may fall in between (two clients); a scrape opens none.
                assert opened <= 2, f"20 scrapes opened {opened} Kafka connections"
        finally:
            await container.stop()
