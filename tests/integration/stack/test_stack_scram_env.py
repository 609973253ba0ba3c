"""``KAFKA_SECURITY=scram|scram-tls stack.sh env`` gives settings the services really read.

Runs a copy of deploy/local in a scratch folder (no broker is started): the printed
``<SERVICE>_KAFKA__*`` names must land in each service's ``KafkaSettings``.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from services.events.config import Settings as EventsSettings
from services.membership.config import Settings as MembershipSettings
from services.notifications.config import Settings as NotificationsSettings
from tests.integration.stack.test_stack_script import REPO, run_stack
from tests.support.ports import free_port

SERVICES = (MembershipSettings, EventsSettings, NotificationsSettings)


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "deploy" / "local", tmp_path / "deploy" / "local")
    return tmp_path


def exports(output: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in output.splitlines():
        words = shlex.split(line)
        assert len(words) == 2, line
        assert words[0] == "export", line
        name, _, value = words[1].partition("=")
        values[name] = value
    return values


def test_scram_env_configures_every_service_for_sasl_scram(
    scratch_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_stack(
        scratch_repo, "env", "kafka", KAFKA_SECURITY="scram", KAFKA_SCRAM_PORT="29094"
    )
    assert result.returncode == 0, result.stderr
    for name, value in exports(result.stdout).items():
        monkeypatch.setenv(name, value)
    for settings_class in SERVICES:
        kafka = settings_class().kafka
        assert kafka.bootstrap_servers == "127.0.0.1:29094"
        assert (kafka.security_protocol, kafka.sasl_mechanism) == (
            "SASL_PLAINTEXT",
            "SCRAM-SHA-512",
        )
        assert (kafka.sasl_username, kafka.sasl_password) == (
            "kl-services",
            "kl-local-scram-secret",
        )
        assert kafka.ssl_cafile is None


def test_scram_tls_env_adds_the_tls_listener_and_the_stacks_ca(
    scratch_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_stack(
        scratch_repo,
        "env",
        "kafka",
        KAFKA_SECURITY="scram-tls",
        KAFKA_SCRAM_SSL_PORT="29096",
        KAFKA_SCRAM_PASSWORD="another-secret",
    )
    assert result.returncode == 0, result.stderr
    for name, value in exports(result.stdout).items():
        monkeypatch.setenv(name, value)
    for settings_class in SERVICES:
        kafka = settings_class().kafka
        assert kafka.bootstrap_servers == "127.0.0.1:29096"
        assert kafka.security_protocol == "SASL_SSL"
        assert kafka.sasl_password == "another-secret"
        assert kafka.ssl_cafile == str(scratch_repo / "var" / "kafka-scram" / "tls" / "ca.pem")


def test_an_unknown_kafka_security_is_named(scratch_repo: Path) -> None:
    result = run_stack(scratch_repo, "env", "kafka", KAFKA_SECURITY="kerberos")
    assert result.returncode != 0
    assert "KAFKA_SECURITY=kerberos is not one of plaintext, scram, scram-tls" in result.stderr


def test_a_scram_password_storage_tool_cannot_parse_is_refused_before_anything_starts(
    scratch_repo: Path,
) -> None:
    result = run_stack(
        scratch_repo,
        "up",
        "kafka",
        KAFKA_SECURITY="scram",
        KAFKA_SCRAM_PASSWORD="a,b]",
        KAFKA_SCRAM_PORT=str(free_port()),
        KAFKA_SCRAM_SSL_PORT=str(free_port()),
        KAFKA_SCRAM_CONTROLLER_PORT=str(free_port()),
    )
    assert result.returncode != 0
    assert "KAFKA_SCRAM_PASSWORD" in result.stderr
    assert "a,b]" not in result.stderr + result.stdout
    assert not (scratch_repo / "var" / "run" / "kafka-scram.pid").exists()
