"""deploy/local/stack.sh says what to do, at once, when the machine is not ready for it.

Each test runs a copy of deploy/local in a scratch folder, so the stack that the other
tests use is never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "deploy" / "local", tmp_path / "deploy" / "local")
    return tmp_path


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run_stack(
    repo: Path, *args: str, timeout: float = 30, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "STACK_PYTHON": sys.executable,
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "PG_PORT": str(free_port()),
        "SMTP_PORT": str(free_port()),
        **env,
    }
    environment.pop("DATABASE_URL", None)
    return subprocess.run(
        ["/bin/bash", str(repo / "deploy" / "local" / "stack.sh"), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_port_taken_by_another_program_is_named_with_the_variable_to_change(
    scratch_repo: Path, taken_port: int
) -> None:
    result = run_stack(scratch_repo, "up", "smtp", SMTP_PORT=str(taken_port))
    assert result.returncode != 0
    assert f"port {taken_port} is already in use" in result.stderr
    assert "SMTP_PORT=<free port>" in result.stderr


def path_without(tmp_path: Path, *missing: str) -> str:
    """A PATH with every program of /usr/bin and /bin except ``missing``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in (Path("/usr/bin"), Path("/bin"), Path("/usr/sbin")):
        for program in folder.iterdir():
            target = bin_dir / program.name
            if program.name not in missing and not target.exists():
                target.symlink_to(program)
    return str(bin_dir)


def test_a_missing_java_says_what_to_install(scratch_repo: Path, tmp_path: Path) -> None:
    path = path_without(tmp_path, "java")
    result = run_stack(scratch_repo, "up", "kafka", PATH=path, JAVA_HOME="")
    assert result.returncode != 0
    assert "java" in result.stderr.lower()
    assert "apt-get install" in result.stderr


def test_a_broken_database_folder_names_the_folder_to_delete(scratch_repo: Path) -> None:
    data = scratch_repo / "var" / "pg" / "data"
    data.mkdir(parents=True)
    (data / "stray-file").write_text("not a cluster")
    result = run_stack(scratch_repo, "up", "postgres")
    assert result.returncode != 0
    assert "var/pg/data is not empty but is not a PostgreSQL cluster" in result.stderr
    assert "delete var/pg/data" in result.stderr


def test_status_of_a_stack_that_never_ran_is_down_and_fails(scratch_repo: Path) -> None:
    result = run_stack(scratch_repo, "status")
    assert result.returncode != 0
    assert result.stdout.count("down") == 4  # kafka, postgres, smtp, issuer
    assert "issuer    down  http://127.0.0.1:" in result.stdout
