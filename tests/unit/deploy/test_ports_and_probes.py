"""Ports and health endpoints agree between the services' settings and the deployment files."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.unit.deploy.manifests import (
    APPS,
    SERVICES,
    compose_container_ports,
    compose_env,
    compose_healthcheck_url,
    compose_service_for,
    container_env,
    deployment_for,
    dockerfile_env,
    http_routes,
    of_kind,
    pod_labels,
    probes,
    resolve_port,
    selects,
    settings_from_env,
)


def compose_port(service: str) -> int:
    _, spec = compose_service_for(service)
    return int(settings_from_env(service, {**dockerfile_env(), **compose_env(spec)}).port)


def k8s_port(service: str) -> int:
    _, container = deployment_for(service)
    env = {**dockerfile_env(), **container_env(container)}
    return int(settings_from_env(service, env).port)


@pytest.mark.parametrize("service", APPS)
def test_compose_publishes_the_port_the_service_listens_on(service: str) -> None:
    _, spec = compose_service_for(service)
    assert compose_container_ports(spec) == [compose_port(service)]


@pytest.mark.parametrize("service", APPS)
def test_compose_healthcheck_asks_readyz_on_the_service_port(service: str) -> None:
    _, spec = compose_service_for(service)
    url = urlsplit(compose_healthcheck_url(spec))
    assert (url.port, url.path) == (compose_port(service), "/readyz")


@pytest.mark.parametrize("service", APPS)
def test_container_port_is_the_port_the_service_listens_on(service: str) -> None:
    _, container = deployment_for(service)
    assert [p["containerPort"] for p in container["ports"]] == [k8s_port(service)]
    assert [p["name"] for p in container["ports"]] == ["http"]


@pytest.mark.parametrize("service", APPS)
def test_probes_use_the_service_port(service: str) -> None:
    _, container = deployment_for(service)
    ports = {kind: resolve_port(container, p["httpGet"]["port"]) for kind, p in probes(container)}
    assert ports == dict.fromkeys(ports, k8s_port(service))
    assert set(ports) == {"startupProbe", "readinessProbe", "livenessProbe"}


@pytest.mark.parametrize("service", APPS)
def test_readiness_is_readyz_and_liveness_and_startup_are_healthz(service: str) -> None:
    _, container = deployment_for(service)
    paths = {kind: probe["httpGet"]["path"] for kind, probe in probes(container)}
    assert paths == {
        "startupProbe": "/healthz",
        "readinessProbe": "/readyz",
        "livenessProbe": "/healthz",
    }


def test_probe_and_metrics_paths_exist_in_the_health_kernel() -> None:
    assert {"/healthz", "/readyz", "/metrics"} <= http_routes()


@pytest.mark.parametrize("service", APPS)
def test_service_target_port_is_the_service_port(service: str) -> None:
    deployment, container = deployment_for(service)
    services = [
        s for s in of_kind("Service") if selects(s["spec"]["selector"], pod_labels(deployment))
    ]
    assert len(services) == 1
    (port,) = services[0]["spec"]["ports"]
    assert port["name"] == "http"
    assert resolve_port(container, port["targetPort"]) == k8s_port(service)


@pytest.mark.parametrize("service", APPS)
def test_prometheus_scrapes_metrics_on_the_service_port(service: str) -> None:
    deployment, _ = deployment_for(service)
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == k8s_port(service)
    assert annotations["prometheus.io/path"] in http_routes()


def test_events_reaches_membership_at_its_compose_service_and_port() -> None:
    _, events = compose_service_for("events")
    membership_name, _ = compose_service_for("membership")
    url = urlsplit(compose_env(events)["EVENTS_MEMBERSHIP_URL"])
    assert (url.hostname, url.port) == (membership_name, compose_port("membership"))


def test_events_reaches_membership_at_its_kubernetes_service_and_port() -> None:
    _, events = deployment_for("events")
    membership, _ = deployment_for("membership")
    url = urlsplit(container_env(events)["EVENTS_MEMBERSHIP_URL"])
    (service,) = [
        s for s in of_kind("Service") if selects(s["spec"]["selector"], pod_labels(membership))
    ]
    assert url.hostname == service["metadata"]["name"]
    assert url.port == service["spec"]["ports"][0]["port"]


@pytest.mark.parametrize("service", SERVICES)
def test_the_web_pages_reach_each_service_at_its_compose_service_and_port(service: str) -> None:
    _, web = compose_service_for("web")
    name, _ = compose_service_for(service)
    url = urlsplit(compose_env(web)[f"WEB_{service.upper()}_URL"])
    assert (url.hostname, url.port) == (name, compose_port(service))


@pytest.mark.parametrize("service", SERVICES)
def test_the_web_pages_reach_each_service_at_its_kubernetes_service_and_port(
    service: str,
) -> None:
    _, web = deployment_for("web")
    deployment, _ = deployment_for(service)
    url = urlsplit(container_env(web)[f"WEB_{service.upper()}_URL"])
    (target,) = [
        s for s in of_kind("Service") if selects(s["spec"]["selector"], pod_labels(deployment))
    ]
    assert url.hostname == target["metadata"]["name"]
    assert url.port == target["spec"]["ports"][0]["port"]


def test_the_deployed_web_pages_offer_no_development_sign_in() -> None:
    _, compose_web = compose_service_for("web")
    _, k8s_web = deployment_for("web")
    for env in (
        {**dockerfile_env(), **compose_env(compose_web)},
        {**dockerfile_env(), **container_env(k8s_web)},
    ):
        assert not settings_from_env("web", env).issuer_url
