"""``KAFKA_BROKERS=3 stack.sh``: the three-node cluster's names, ports and settings.

Runs a copy of deploy/local in a scratch folder and starts no broker (the end-to-end test on
the cluster, tests/e2e/cluster, starts one): what `env` and `status` say, and what is refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.stack.test_stack_scram_env import exports
from tests.integration.stack.test_stack_script import REPO, run_stack


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "deploy" / "local", tmp_path / "deploy" / "local")
    return tmp_path


def test_env_names_all_three_nodes_from_the_cluster_port(scratch_repo: Path) -> None:
    result = run_stack(scratch_repo, "env", "kafka", KAFKA_BROKERS="3", KAFKA_CLUSTER_PORT="29192")
    assert result.returncode == 0, result.stderr
    assert exports(result.stdout) == {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29192,127.0.0.1:29193,127.0.0.1:29194"
    }


def test_the_cluster_has_ports_of_its_own_by_default(scratch_repo: Path) -> None:
    env = {"KAFKA_CLUSTER_PORT": "", "KAFKA_PORT": "19092"}
    cluster = run_stack(scratch_repo, "env", "kafka", KAFKA_BROKERS="3", **env)
    single = run_stack(scratch_repo, "env", "kafka", **env)
    assert exports(cluster.stdout)["KAFKA_BOOTSTRAP_SERVERS"] == (
        "127.0.0.1:19192,127.0.0.1:19193,127.0.0.1:19194"
    )
    assert exports(single.stdout)["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"


def test_status_shows_each_node(scratch_repo: Path) -> None:
    result = run_stack(
        scratch_repo, "status", "kafka", KAFKA_BROKERS="3", KAFKA_CLUSTER_PORT="29192"
    )
    assert result.returncode != 0
    assert result.stdout.splitlines() == [
        "kafka-1   down  127.0.0.1:29192",
        "kafka-2   down  127.0.0.1:29193",
        "kafka-3   down  127.0.0.1:29194",
    ]
    one = run_stack(scratch_repo, "status", "kafka-2", KAFKA_BROKERS="3")
    assert [line.split()[0] for line in one.stdout.splitlines()] == ["kafka-2"]


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"KAFKA_BROKERS": "2"}, ("status", "kafka"), "KAFKA_BROKERS=2: 1 (the one-node"),
        (
            {"KAFKA_BROKERS": "3", "KAFKA_SECURITY": "scram"},
            ("up", "kafka"),
            "KAFKA_BROKERS=3 runs PLAINTEXT only",
        ),
        ({"KAFKA_BROKERS": "3"}, ("down", "kafka-4"), "unknown component 'kafka-4'"),
        ({}, ("down", "kafka-2"), "unknown component 'kafka-2'"),
        ({"KAFKA_BROKERS": "3", "KAFKA_CLUSTER_PORT": "x"}, ("env",), "not a number"),
    ],
)
def test_what_the_cluster_cannot_be_is_refused_before_anything_starts(
    scratch_repo: Path, env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    result = run_stack(scratch_repo, *args, **env)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (scratch_repo / "var" / "run").exists() or not list(
        (scratch_repo / "var" / "run").glob("kafka*.pid")
    )
