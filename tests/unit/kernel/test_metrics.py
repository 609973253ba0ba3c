"""Consumer lag opens two Kafka clients and closes both on every path."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from aiokafka.errors import KafkaConnectionError

from services.kernel.kafka import KafkaSettings
from services.kernel.metrics import consumer_lag

SETTINGS = KafkaSettings(bootstrap_servers="127.0.0.1:1")


class FakeClient:
    """Stands in for aiokafka's admin client and consumer; ``fails`` at start if told."""

    made: ClassVar[list[FakeClient]] = []

    def __init__(self, fails: bool = False, **_: Any) -> None:
        self.fails = fails
        self.started = self.closed = False
        FakeClient.made.append(self)

    async def start(self) -> None:
        self.started = True
        if self.fails:
            raise KafkaConnectionError("no broker")

    async def stop(self) -> None:
        self.closed = True

    async def close(self) -> None:
        self.closed = True

    async def list_consumer_group_offsets(self, group: str) -> dict[Any, Any]:
        return {}


def working(**options: Any) -> FakeClient:
    return FakeClient(**options)


def failing(**options: Any) -> FakeClient:
    return FakeClient(fails=True, **options)


@pytest.mark.parametrize(
    ("admin", "consumer"),
    [(working, failing), (failing, working), (working, working)],
    ids=["the consumer fails to start", "the admin client fails to start", "both start"],
)
async def test_both_clients_are_closed_whatever_fails(admin: Any, consumer: Any) -> None:
    FakeClient.made = []
    fails = admin is failing or consumer is failing
    if fails:
        with pytest.raises(KafkaConnectionError):
            await consumer_lag(SETTINGS, ["g"], admin_client=admin, consumer_client=consumer)
    else:
        assert (
            await consumer_lag(SETTINGS, ["g"], admin_client=admin, consumer_client=consumer) == []
        )
    assert len(FakeClient.made) == 2
    assert all(client.closed for client in FakeClient.made)
