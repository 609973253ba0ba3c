"""``operator run`` follows the local stack's ports: the services' settings are derived
from what ``deploy/local/stack.sh env`` prints, so a stack on other ports just works."""

from __future__ import annotations

import os

from services.operator.processes import (
    default_database,
    service_environment,
    stack_environment,
    vault_database,
)

STACK = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:39092",
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:57432/postgres",
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": "4525",
    "MAIL_DIR": "/x/var/mail",
    "ISSUER_URL": "http://127.0.0.1:9420",
    "EVENTS_AUTH__ISSUER": "http://127.0.0.1:9420",
    "WEB_ISSUER_URL": "http://127.0.0.1:9420",
}


def test_each_service_gets_its_own_database_and_the_shared_vault_on_the_stacks_server() -> None:
    env = service_environment(STACK)
    for service, prefix in (
        ("membership", "MEMBERSHIP"),
        ("events", "EVENTS"),
        ("notifications", "NOTIFICATIONS"),
    ):
        assert env[f"{prefix}_DATABASE_URL"] == f"postgresql://postgres@127.0.0.1:57432/{service}"
        assert env[f"{prefix}_PRIVACY__DATABASE_URL"] == (
            "postgresql://postgres@127.0.0.1:57432/kl_privacy"
        )
        assert env[f"{prefix}_KAFKA__BOOTSTRAP_SERVERS"] == "127.0.0.1:39092"
    assert env["NOTIFICATIONS_SMTP_PORT"] == "4525"
    assert env["EVENTS_AUTH__ISSUER"] == "http://127.0.0.1:9420", "passed on as printed"
    assert "MAIL_DIR" not in env, "only the services' own settings"


def test_the_database_names_are_the_services_defaults() -> None:
    assert [default_database(s) for s in ("membership", "events", "notifications")] == [
        "membership",
        "events",
        "notifications",
    ]
    assert vault_database() == "kl_privacy"


def test_the_stack_script_is_asked_with_the_callers_port_variables() -> None:
    environ = {**os.environ, "KAFKA_PORT": "39992", "PG_PORT": "59999", "SMTP_PORT": "4999"}
    environ.pop("DATABASE_URL", None)
    stack = stack_environment(environ)
    assert stack["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:39992"
    assert stack["DATABASE_URL"] == "postgresql://postgres@127.0.0.1:59999/postgres"
    assert stack["SMTP_PORT"] == "4999"
