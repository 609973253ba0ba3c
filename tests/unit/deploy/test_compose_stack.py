"""The compose stack: one database user per service, dependencies, replicas, the image."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

import pytest

from tests.unit.deploy.manifests import (
    APPS,
    COMPOSE_FILE,
    ROOT,
    SERVICES,
    compose_env,
    compose_env_raw,
    compose_service_for,
    compose_services,
    dockerfile_final_stage,
    env_prefix,
    init_sql,
    interpolate,
    interpolated_variables,
)


def raw_database_url(service: str) -> str:
    """The service's database URL as written, with its ``${...}`` variables."""
    _, spec = compose_service_for(service)
    return compose_env_raw(spec)[f"{env_prefix(service)}DATABASE_URL"]


def database_url(service: str) -> SplitResult:
    """The service's database URL with the development defaults filled in."""
    return urlsplit(interpolate(raw_database_url(service)))


@pytest.mark.parametrize("service", APPS)
def test_each_service_is_run_by_one_compose_service(service: str) -> None:
    compose_service_for(service)


def test_each_service_connects_as_its_own_database_user() -> None:
    users = [database_url(service).username for service in SERVICES]
    assert None not in users
    assert len(set(users)) == len(SERVICES)
    assert "postgres" not in users


@pytest.mark.parametrize("service", SERVICES)
def test_database_user_and_database_are_created_by_the_init_script(service: str) -> None:
    url = database_url(service)
    sql = init_sql()
    database = url.path.lstrip("/")
    assert url.username in sql.roles
    assert sql.databases.get(database) == url.username, "the service's user owns its database"


@pytest.mark.parametrize("service", SERVICES)
def test_database_url_points_at_the_postgres_service(service: str) -> None:
    url = database_url(service)
    assert url.hostname in compose_services()
    assert compose_services()[url.hostname]["image"].startswith("postgres:15")
    assert url.port == 5432


@pytest.mark.parametrize("service", SERVICES)
def test_password_in_url_is_the_one_the_init_script_sets(service: str) -> None:
    """The URL and the init script read the same variable, with the same development default."""
    url = database_url(service)
    sql = init_sql()
    assert url.username
    psql_variable = sql.roles[url.username]
    assert psql_variable, f"{url.username} has no password from the environment"
    env_name = sql.getenv[psql_variable]
    postgres_env = compose_env_raw(compose_services()["postgres"])
    in_url = interpolated_variables(raw_database_url(service))
    in_postgres = interpolated_variables(postgres_env[env_name])
    assert in_url == in_postgres, f"{service}: {in_url} in the URL, {in_postgres} for postgres"
    assert len(in_url) == 1, "the password is a variable, not written into the file"


def test_init_script_is_mounted_into_postgres() -> None:
    volumes = compose_services()["postgres"]["volumes"]
    mounts = {
        v.split(":")[1]: (COMPOSE_FILE.parent / v.split(":")[0]).resolve()
        for v in volumes
        if v.startswith(".")
    }
    initdb = mounts["/docker-entrypoint-initdb.d"]
    assert (initdb / "01-users.sql").is_file()


@pytest.mark.parametrize("service", SERVICES)
def test_service_waits_for_healthy_postgres_and_runs_two_replicas(service: str) -> None:
    _, spec = compose_service_for(service)
    assert spec["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert all("condition" in dep for dep in spec["depends_on"].values())
    assert set(spec["depends_on"]) <= set(compose_services())
    assert spec["deploy"]["replicas"] == 2
    assert spec["restart"] in {"always", "unless-stopped", "on-failure"}


def test_notifications_sends_mail_to_mailpit() -> None:
    env = compose_env(compose_service_for("notifications")[1])
    mailpit = compose_services()[env["NOTIFICATIONS_SMTP_HOST"]]
    assert mailpit["image"].startswith("axllent/mailpit")
    assert env["NOTIFICATIONS_SMTP_PORT"] == "1025"


@pytest.mark.parametrize("service", APPS)
def test_service_is_built_from_the_deploy_dockerfile(service: str) -> None:
    _, spec = compose_service_for(service)
    context = (COMPOSE_FILE.parent / spec["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / spec["build"]["dockerfile"]).resolve() == ROOT / "deploy" / "Dockerfile"


def test_image_runs_as_a_non_root_user() -> None:
    users = [args for name, args in dockerfile_final_stage() if name == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_image_installs_the_project_without_dev_dependencies() -> None:
    stage = dockerfile_final_stage()
    assert stage[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(args for name, args in stage if name == "RUN")
    assert "pip install" in runs
    assert "[dev]" not in runs
