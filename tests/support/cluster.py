"""The three-node Kafka cluster of the local stack (``KAFKA_BROKERS=3 deploy/local/stack.sh``).

:func:`kafka_cluster` starts it when it does not run and stops it again afterwards; one that
runs already (a developer's, or the one ``.ci/run`` starts) is used and left running. The
addresses come from ``stack.sh env``, as an operator would get them. :class:`Cluster` kills,
stops and starts single nodes, and says which node leads a partition or coordinates a group.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.protocol.metadata import MetadataRequest

from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "deploy" / "local" / "stack.sh"
NODES = (1, 2, 3)


def stack(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``KAFKA_BROKERS=3 stack.sh ARGS`` with this environment's ports."""
    env = {**os.environ, "KAFKA_BROKERS": "3"}
    env.pop("KAFKA_SECURITY", None)
    env.setdefault("STACK_PYTHON", sys.executable)
    return subprocess.run(
        ["/bin/bash", str(STACK), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def must(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class Cluster:
    bootstrap: str
    """The three nodes' client addresses, as ``stack.sh env`` prints them."""
    started_in: float | None
    """Seconds ``stack.sh up kafka`` took, when this session started the cluster."""

    def pid(self, node: int) -> int:
        return int((REPO / "var" / "run" / f"kafka-{node}.pid").read_text().split()[0])

    async def kill(self, node: int) -> None:
        """SIGKILL the node's JVM (a crash: no controlled shutdown) and wait until it is gone."""
        pid = self.pid(node)
        props = REPO / "var" / "kafka-cluster" / f"kafka-{node}" / "server.properties"
        assert str(props) in _cmdline(pid), f"pid {pid} is not node {node} of the cluster"
        os.kill(pid, signal.SIGKILL)

        async def gone() -> bool:
            return _gone(pid)

        await wait_until(gone, timeout=10, what=f"node {node} gone")

    async def stop(self, node: int) -> float:
        """``stack.sh down kafka-N``: a controlled shutdown. Returns the seconds it took."""
        t0 = time.monotonic()
        must(await asyncio.to_thread(stack, "down", f"kafka-{node}"))
        return time.monotonic() - t0

    async def start(self) -> float:
        """``stack.sh up kafka``: start the nodes that do not run and wait until each is back
        among the brokers. Returns the seconds it took."""
        t0 = time.monotonic()
        must(await asyncio.to_thread(stack, "up", "kafka"))
        return time.monotonic() - t0

    async def _metadata(self, topic: str) -> Any:
        """The topic's metadata from the first node that answers (an admin client would
        ask a node at random, perhaps the one just killed)."""
        failures = []
        for server in self.bootstrap.split(","):
            host, _, port = server.rpartition(":")
            try:
                conn = await create_conn(host, int(port), request_timeout_ms=5000)
            except (OSError, KafkaError) as exc:
                failures.append(f"{server}: {exc!r}")
                continue
            try:
                return await conn.send(MetadataRequest(topics=[topic]))
            except (OSError, KafkaError) as exc:
                failures.append(f"{server}: {exc!r}")
            finally:
                conn.close()
        raise AssertionError(f"no node answered: {failures}")

    async def leader_for_key(self, topic: str, key: bytes) -> int:
        """The node that leads the partition the default partitioner gives ``key`` (-1: none
        at the moment)."""
        metadata = await self._metadata(topic)
        ((_, _, _, partitions),) = [t[:4] for t in metadata.topics if t[1] == topic]
        leaders = {p[1]: p[2] for p in partitions}  # partition -> leader
        ids = sorted(leaders)
        return int(leaders[DefaultPartitioner()(key, ids, ids)])

    async def in_sync(self, topic: str) -> set[int]:
        """How many copies are in sync, per partition of ``topic`` (as a set of counts)."""
        metadata = await self._metadata(topic)
        ((_, _, _, partitions),) = [t[:4] for t in metadata.topics if t[1] == topic]
        return {len(p[4]) for p in partitions}

    async def coordinator(self, group: str) -> int:
        """The node that coordinates a consumer group (holds its offsets)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            return int(await admin.find_coordinator(group))
        finally:
            await admin.close()


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")


def _gone(pid: int) -> bool:
    """The process has ended (a zombie not yet reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def _bootstrap() -> str:
    for line in must(stack("env", "kafka", timeout=30)).splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[1].startswith("KAFKA_BOOTSTRAP_SERVERS="):
            return words[1].partition("=")[2]
    raise AssertionError("stack.sh env kafka printed no KAFKA_BOOTSTRAP_SERVERS")


@contextmanager
def kafka_cluster() -> Iterator[Cluster]:
    started_in: float | None = None
    if stack("status", "kafka", timeout=60).returncode != 0:
        t0 = time.monotonic()
        must(stack("up", "kafka"))
        started_in = time.monotonic() - t0
        print(f"three-node Kafka cluster started in {started_in:.1f}s")
    try:
        yield Cluster(_bootstrap(), started_in)
    finally:
        if started_in is not None:
            must(stack("down", "kafka", timeout=120))
