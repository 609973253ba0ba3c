"""The local stack starts from a checkout in a folder other users cannot enter (root's home,
a folder of mode 0700), run as root or not.

As root, PostgreSQL runs as a system user of its own, who could not reach var/pg there: the
cluster is made where that user can reach it, and ``status`` says where. The test copies
deploy/local into a private folder and starts PostgreSQL alone on a free port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.stack.test_stack_script import REPO, run_stack
from tests.support.ports import free_port


@pytest.fixture
def private_checkout(tmp_path: Path) -> Path:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    checkout = private / "checkout"
    shutil.copytree(REPO / "deploy" / "local", checkout / "deploy" / "local")
    return checkout


@pytest.fixture
def cluster_home() -> Iterator[Path]:
    """Where root's clusters of unreachable checkouts go (STACK_PG_HOME), for this test."""
    home = Path(tempfile.mkdtemp(prefix="kl-stack-test-", dir="/tmp"))
    home.chmod(0o755)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def stack(checkout: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_stack(checkout, *args, timeout=120, **env)


def test_postgres_starts_from_a_private_folder_and_status_says_where_its_data_is(
    private_checkout: Path, cluster_home: Path
) -> None:
    # run_stack: free ports, this Python, no DATABASE_URL; the same PG_PORT every time.
    env = {"PG_PORT": str(free_port()), "STACK_PG_HOME": str(cluster_home), "STACK_TIMEOUT": "60"}
    try:
        up = stack(private_checkout, env, "up", "postgres")
        assert up.returncode == 0, up.stdout + up.stderr
        status = stack(private_checkout, env, "status", "postgres")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "postgres  up" in status.stdout
        if os.geteuid() == 0:
            where = (private_checkout / "var" / "pg.location").read_text().strip()
            assert where.startswith(f"{cluster_home}/checkout-")
            assert f"data {where}/data (run as " in status.stdout
            assert (Path(where) / "data" / "PG_VERSION").is_file()
            assert not (private_checkout / "var" / "pg").exists()
        else:  # postgres runs as the caller, who can reach var/pg
            assert "data var/pg/data" in status.stdout
    finally:
        down = stack(private_checkout, env, "down", "postgres")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "postgres: stopped" in down.stdout
