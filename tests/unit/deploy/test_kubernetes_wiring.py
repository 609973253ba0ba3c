"""The Kubernetes objects refer to each other correctly, and kustomize applies all of them."""

from __future__ import annotations

import pytest

from tests.unit.deploy.manifests import (
    APPS,
    SECRET_EXAMPLE,
    SERVICES,
    Doc,
    containers,
    deployment_for,
    k8s_docs,
    k8s_files,
    kustomization,
    load_docs,
    named,
    of_kind,
    pod_labels,
    secret_example_values,
    selects,
)

NAMESPACE = "kl-networks"


def test_kustomization_lists_every_manifest_except_the_example_secret() -> None:
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in k8s_files()} - {"kustomization.yaml", SECRET_EXAMPLE.name}
    assert listed == on_disk


def test_no_secret_is_applied_from_the_repository() -> None:
    assert SECRET_EXAMPLE.name not in kustomization()["resources"]
    assert of_kind("Secret") == []


def test_everything_lives_in_the_namespace() -> None:
    assert [n["metadata"]["name"] for n in of_kind("Namespace")] == [NAMESPACE]
    others = [d for d in k8s_docs() if d["kind"] != "Namespace"]
    assert {d["metadata"].get("namespace") for d in others} == {NAMESPACE}


def test_every_service_and_the_web_pages_have_exactly_one_deployment() -> None:
    assert len(of_kind("Deployment")) == len(APPS)
    for app in APPS:
        deployment_for(app)


@pytest.mark.parametrize("deployment", of_kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_deployment_selector_matches_its_pod_labels(deployment: Doc) -> None:
    assert selects(deployment["spec"]["selector"]["matchLabels"], pod_labels(deployment))


@pytest.mark.parametrize("deployment", of_kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_exactly_one_service_selects_each_deployment_and_only_it(deployment: Doc) -> None:
    services = [
        s for s in of_kind("Service") if selects(s["spec"]["selector"], pod_labels(deployment))
    ]
    assert len(services) == 1
    others = [d for d in of_kind("Deployment") if d is not deployment]
    assert not any(selects(services[0]["spec"]["selector"], pod_labels(d)) for d in others)
    assert services[0]["spec"].get("type", "ClusterIP") == "ClusterIP"


@pytest.mark.parametrize(
    "hpa", of_kind("HorizontalPodAutoscaler"), ids=lambda d: d["metadata"]["name"]
)
def test_autoscaler_targets_an_existing_deployment(hpa: Doc) -> None:
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    named("Deployment", target["name"])


@pytest.mark.parametrize("deployment", of_kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_each_deployment_scales_on_cpu_between_two_and_six(deployment: Doc) -> None:
    name = deployment["metadata"]["name"]
    (hpa,) = [
        h for h in of_kind("HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == name
    ]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert deployment["spec"]["replicas"] == 2


@pytest.mark.parametrize("deployment", of_kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_each_deployment_has_a_disruption_budget_selecting_its_pods(deployment: Doc) -> None:
    budgets = [
        p
        for p in of_kind("PodDisruptionBudget")
        if selects(p["spec"]["selector"]["matchLabels"], pod_labels(deployment))
    ]
    assert len(budgets) == 1


def test_referenced_secret_keys_exist_in_the_example_secret() -> None:
    examples = secret_example_values()
    referenced = {
        (ref["name"], ref["key"])
        for deployment in of_kind("Deployment")
        for container in containers(deployment)
        for entry in container.get("env", [])
        if (ref := entry.get("valueFrom", {}).get("secretKeyRef"))
    }
    assert referenced
    assert referenced <= set(examples)


def test_example_secret_has_no_keys_nobody_reads() -> None:
    referenced = {
        (ref["name"], ref["key"])
        for deployment in of_kind("Deployment")
        for container in containers(deployment)
        for entry in container.get("env", [])
        if (ref := entry.get("valueFrom", {}).get("secretKeyRef"))
    }
    assert set(secret_example_values()) == referenced


def test_example_secret_is_in_the_namespace_and_holds_no_real_password() -> None:
    for doc in load_docs(SECRET_EXAMPLE):
        assert doc["metadata"]["namespace"] == NAMESPACE
    # Every value is a placeholder, or (previous master keys outside a rotation) empty.
    assert all("CHANGE-ME" in value or value == "[]" for value in secret_example_values().values())


@pytest.mark.parametrize("service", SERVICES)
def test_database_url_comes_from_a_secret(service: str) -> None:
    _, container = deployment_for(service)
    sources = {e["name"]: e.get("valueFrom", {}) for e in container.get("env", [])}
    variable = f"{service.upper()}_DATABASE_URL"
    assert "secretKeyRef" in sources[variable]
    for source in container.get("envFrom", []):
        data = named("ConfigMap", source["configMapRef"]["name"]).get("data", {})
        assert variable not in data, "the database URL (with its password) belongs in a Secret"


@pytest.mark.parametrize("service", APPS)
def test_config_maps_referenced_by_a_deployment_exist(service: str) -> None:
    _, container = deployment_for(service)
    refs = [s["configMapRef"]["name"] for s in container["envFrom"]]
    assert refs
    for ref in refs:
        named("ConfigMap", ref)


@pytest.mark.parametrize("service", APPS)
def test_kubernetes_injects_no_service_link_variables(service: str) -> None:
    """A Service named ``events`` would put ``EVENTS_PORT=tcp://...`` into every pod."""
    deployment, _ = deployment_for(service)
    assert deployment["spec"]["template"]["spec"]["enableServiceLinks"] is False


@pytest.mark.parametrize("service", APPS)
def test_pods_run_as_non_root_with_a_read_only_root_filesystem(service: str) -> None:
    deployment, container = deployment_for(service)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    assert tmp, "a writable /tmp (emptyDir) next to the read-only root filesystem"


@pytest.mark.parametrize("service", APPS)
def test_resources_request_and_limit_memory(service: str) -> None:
    _, container = deployment_for(service)
    resources = container["resources"]
    assert resources["requests"] == {"cpu": "100m", "memory": "150Mi"}
    assert resources["limits"]["memory"] == "256Mi"
