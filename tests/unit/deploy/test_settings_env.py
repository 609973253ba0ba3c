"""Every environment variable the deployment files set is one the service really reads.

A typo (``EVENTS_MEMBERSHIP_ULR``) or a renamed setting would otherwise be ignored silently
and the service would run on its local default.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from pydantic import ValidationError

from tests.unit.deploy.manifests import (
    APPS,
    COMPOSE_FILE,
    ROOT,
    SERVICES,
    compose_env,
    compose_env_raw,
    compose_service_for,
    container_env,
    deployment_for,
    dockerfile_env,
    env_prefix,
    required_variables,
    settings_from_env,
    valid_env_names,
)


def unknown_names(service: str, names: Iterable[str]) -> list[str]:
    return sorted(n for n in names if n.upper() not in valid_env_names(service))


@pytest.mark.parametrize("service", APPS)
def test_compose_sets_only_settings_the_service_reads(service: str) -> None:
    _, spec = compose_service_for(service)
    assert unknown_names(service, compose_env(spec)) == []


@pytest.mark.parametrize("service", APPS)
def test_kubernetes_sets_only_settings_the_service_reads(service: str) -> None:
    _, container = deployment_for(service)
    assert unknown_names(service, container_env(container)) == []


@pytest.mark.parametrize("service", APPS)
def test_dockerfile_sets_only_settings_the_services_read(service: str) -> None:
    ours = [name for name in dockerfile_env() if name.startswith(env_prefix(service))]
    assert unknown_names(service, ours) == []


@pytest.mark.parametrize("service", SERVICES)
def test_compose_environment_is_accepted_by_the_settings(service: str) -> None:
    _, spec = compose_service_for(service)
    settings_from_env(service, compose_env(spec))  # raises on a value of the wrong type


@pytest.mark.parametrize("service", SERVICES)
def test_kubernetes_environment_is_accepted_by_the_settings(service: str) -> None:
    _, container = deployment_for(service)
    settings_from_env(service, container_env(container))


@pytest.mark.parametrize("service", SERVICES)
def test_containers_listen_on_all_interfaces(service: str) -> None:
    _, spec = compose_service_for(service)
    _, container = deployment_for(service)
    # The image alone runs only as a development run (next test); said so, it listens wide.
    development = {f"{env_prefix(service)}DEVELOPMENT": "true"}
    image_only = settings_from_env(service, {**dockerfile_env(), **development})
    in_compose = settings_from_env(service, {**dockerfile_env(), **compose_env(spec)})
    in_k8s = settings_from_env(service, {**dockerfile_env(), **container_env(container)})
    assert (image_only.host, in_compose.host, in_k8s.host) == ("0.0.0.0",) * 3


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_alone_refuses_the_public_development_key_pepper_and_issuer(
    service: str,
) -> None:
    prefix = env_prefix(service)
    with pytest.raises(ValidationError) as refused:
        settings_from_env(service, dockerfile_env())
    message = str(refused.value)
    for name in ("PRIVACY__MASTER_KEY", "PRIVACY__PEPPER", "AUTH__ISSUER"):
        assert f"{prefix}{name}" in message
    assert f"{prefix}DEVELOPMENT=true" in message, "it says how to run it for development"


@pytest.mark.parametrize("service", SERVICES)
def test_no_deployment_file_turns_development_on(service: str) -> None:
    _, spec = compose_service_for(service)
    _, container = deployment_for(service)
    name = f"{env_prefix(service)}DEVELOPMENT"
    for env in (dockerfile_env(), compose_env(spec), container_env(container)):
        assert name not in env
    for env in (compose_env(spec), container_env(container)):
        assert not settings_from_env(service, {**dockerfile_env(), **env}).development


@pytest.mark.parametrize("service", SERVICES)
def test_compose_takes_the_vault_key_and_pepper_from_required_variables(service: str) -> None:
    """``${PRIVACY_MASTER_KEY:?...}``: compose refuses to start until .env sets them, and
    .env.example names every variable compose requires."""
    _, spec = compose_service_for(service)
    raw = compose_env_raw(spec)
    prefix = env_prefix(service)
    assert set(required_variables(raw[f"{prefix}PRIVACY__MASTER_KEY"])) == {"PRIVACY_MASTER_KEY"}
    assert set(required_variables(raw[f"{prefix}PRIVACY__PEPPER"])) == {"PRIVACY_PEPPER"}
    example = (COMPOSE_FILE.parent / ".env.example").read_text()
    for variable in {v for value in raw.values() for v in required_variables(value)}:
        assert f"\n{variable}=\n" in example, variable
    assert (ROOT / ".gitignore").read_text().count("deploy/compose/.env\n") == 1


def test_the_name_check_knows_nested_kafka_settings_and_catches_typos() -> None:
    names = valid_env_names("events")
    assert "EVENTS_KAFKA__BOOTSTRAP_SERVERS" in names
    assert "EVENTS_KAFKA__SASL_PASSWORD" in names
    assert "EVENTS_MEMBERSHIP_URL" in names
    assert "EVENTS_MEMBERSHIP_ULR" not in names
    assert "EVENTS_KAFKA_BOOTSTRAP_SERVERS" not in names
