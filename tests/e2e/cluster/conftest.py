"""The whole system on the three-node Kafka cluster (``cluster``, ``system``) and its SMTP sink."""

from collections.abc import AsyncIterator, Iterator

import pytest

# The harness holds most of the assertions: let pytest explain them when they fail.
pytest.register_assert_rewrite("tests.e2e.operations.harness")

from tests.support.cluster import Cluster, kafka_cluster  # noqa: E402
from tests.support.notifications_smtp_sink import SmtpSink, smtp_sink  # noqa: E402
from tests.support.system import System, open_system  # noqa: E402

__all__ = ["smtp_sink"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """The three nodes, started here unless they run already (then left running)."""
    with kafka_cluster() as running:
        yield running


@pytest.fixture
async def system(unique: str, smtp_sink: SmtpSink, cluster: Cluster) -> AsyncIterator[System]:
    """Fresh databases and prefix on the cluster; every node runs again afterwards."""
    try:
        async with open_system(unique, smtp_sink, cluster.bootstrap) as running:
            yield running
    finally:
        await cluster.start()
