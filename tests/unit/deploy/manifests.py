"""Reading the deployment files (compose, Kubernetes, Dockerfile, init SQL) for the checks.

Everything here is plain parsing: no Docker, no cluster, no network. The services' own
``Settings`` classes say which environment variables are real.
"""

from __future__ import annotations

import base64
import importlib
import itertools
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from pydantic import AliasChoices, BaseModel
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose" / "compose.yaml"
INIT_SQL = DEPLOY / "compose" / "initdb" / "01-users.sql"
K8S = DEPLOY / "k8s"
KUSTOMIZATION = K8S / "kustomization.yaml"
SECRET_EXAMPLE = K8S / "secret.example.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
HEALTH_MODULE = ROOT / "services" / "kernel" / "health.py"

SERVICES = ("membership", "events", "notifications")
"""The services: each with its database, its Kafka topics and its secrets."""
APPS = (*SERVICES, "web")
"""Everything deployed that serves HTTP: the services and the web pages (no database)."""

Doc = dict[str, Any]


# --- the services' settings --------------------------------------------------------------------


def settings_class(service: str) -> type[BaseSettings]:
    cls: type[BaseSettings] = importlib.import_module(f"services.{service}.config").Settings
    assert issubclass(cls, BaseSettings)
    return cls


def env_prefix(service: str) -> str:
    return str(settings_class(service).model_config.get("env_prefix", ""))


def _alias_names(alias: object) -> list[str]:
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return []


@cache
def valid_env_names(service: str) -> frozenset[str]:
    """Every environment variable the service's ``Settings`` reads, upper-cased.

    As pydantic-settings reads them: ``<prefix><field>``, or only the field's validation
    aliases when it has some; nested models (``KafkaSettings``) add ``<name>__<subfield>``.
    """
    cls = settings_class(service)
    prefix = env_prefix(service)
    delimiter = cls.model_config.get("env_nested_delimiter")
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        bases = _alias_names(field.validation_alias) or [f"{prefix}{field_name}"]
        names.update(bases)
        nested = field.annotation
        if delimiter and isinstance(nested, type) and issubclass(nested, BaseModel):
            for sub_name, sub_field in nested.model_fields.items():
                for base in bases:
                    for sub in _alias_names(sub_field.validation_alias) or [sub_name]:
                        names.add(f"{base}{delimiter}{sub}")
    return frozenset(name.upper() for name in names)


def settings_from_env(service: str, env: Mapping[str, str]) -> Any:
    """The service's ``Settings`` as the process would build them with exactly ``env``."""
    with mock.patch.dict(os.environ, dict(env), clear=True):
        return settings_class(service)()


def service_of_command(command: str | list[str] | None) -> str | None:
    """``python -m services.events`` -> ``events``."""
    words = command.split() if isinstance(command, str) else list(command or [])
    for first, second in itertools.pairwise(words):
        if first == "-m" and str(second).startswith("services."):
            return str(second).removeprefix("services.")
    return None


# --- compose -----------------------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}")

COMPOSE_FILLED_IN = {
    "PRIVACY_MASTER_KEY": base64.b64encode(bytes(range(64, 96))).decode(),
    "PRIVACY_PEPPER": base64.b64encode(bytes(range(96, 128))).decode(),
}
"""What an operator puts into deploy/compose/.env for the variables compose requires
(``${VAR:?message}``): compose refuses to start without them."""


def required_variables(value: object) -> dict[str, str]:
    """``${VAR:?message}`` references in a compose value: variable -> message."""
    return {
        m.group("name"): m.group("default") or ""
        for m in _INTERPOLATION.finditer(str(value))
        if m.group("op").endswith("?")
    }


def interpolate(value: object) -> str:
    """Compose's ``${VAR:-default}`` with nothing set: the defaults (``$$`` is a ``$``);
    a required ``${VAR:?message}``: what an operator fills in (:data:`COMPOSE_FILLED_IN`)."""
    text = str(value).replace("$$", "\0")

    def value_of(m: re.Match[str]) -> str:
        if (m.group("op") or "").endswith("?"):
            assert m.group("name") in COMPOSE_FILLED_IN, f"no test value for {m.group('name')}"
            return COMPOSE_FILLED_IN[m.group("name")]
        return m.group("default") or ""

    text = _INTERPOLATION.sub(value_of, text)
    return text.replace("\0", "$")


def interpolated_variables(value: object) -> dict[str, str]:
    """``${VAR:-default}`` references in a compose value: variable -> default."""
    return {
        m.group("name"): m.group("default") or ""
        for m in _INTERPOLATION.finditer(str(value))
        if not (m.group("op") or "").endswith("?")
    }


@cache
def compose() -> Doc:
    data: Doc = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


def compose_services() -> dict[str, Doc]:
    services: dict[str, Doc] = compose()["services"]
    return services


def compose_service_for(service: str) -> tuple[str, Doc]:
    """The compose service that runs ``python -m services.<service>``."""
    found = [
        (name, spec)
        for name, spec in compose_services().items()
        if service_of_command(spec.get("command")) == service
    ]
    assert len(found) == 1, f"{service}: expected one compose service, found {found}"
    return found[0]


def compose_env_raw(spec: Doc) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def compose_env(spec: Doc) -> dict[str, str]:
    """A compose service's environment with the development defaults filled in."""
    return {k: interpolate(v) for k, v in compose_env_raw(spec).items()}


def compose_container_ports(spec: Doc) -> list[int]:
    ports = []
    for entry in spec.get("ports") or []:
        if isinstance(entry, dict):
            ports.append(int(entry["target"]))
        else:
            ports.append(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def compose_healthcheck_url(spec: Doc) -> str:
    test = spec["healthcheck"]["test"]
    text = " ".join(test) if isinstance(test, list) else str(test)
    match = re.search(r"https?://[^\s'\"]+", text)
    assert match, f"no URL in the healthcheck {test!r}"
    return match.group(0)


_CREATE_TOPIC = re.compile(r"--topic\s+(?P<topic>\S+)\s+--partitions\s+(?P<partitions>\d+)")


def compose_topics() -> dict[str, int]:
    """Topic -> partitions created by the one-shot ``kafka-init`` service."""
    spec = compose_services()["kafka-init"]
    parts = [spec.get("entrypoint"), spec.get("command")]
    text = " ".join(" ".join(p) if isinstance(p, list) else str(p or "") for p in parts)
    topics: dict[str, int] = {}
    for match in _CREATE_TOPIC.finditer(text):
        assert match["topic"] not in topics, f"{match['topic']} is created twice"
        topics[match["topic"]] = int(match["partitions"])
    return topics


def compose_replication() -> tuple[int, int]:
    """(replication factor, min.insync.replicas) that ``kafka-init`` creates the topics with."""
    spec = compose_services()["kafka-init"]
    parts = [spec.get("entrypoint"), spec.get("command")]
    text = " ".join(" ".join(p) if isinstance(p, list) else str(p or "") for p in parts)
    factors = set(re.findall(r"--replication-factor\s+(\d+)", text))
    in_sync = set(re.findall(r"--config\s+min\.insync\.replicas=(\d+)", text))
    assert len(factors) == len(in_sync) == 1, (factors, in_sync)
    return int(factors.pop()), int(in_sync.pop())


def compose_kafka_brokers() -> int:
    """The brokers of the compose file's Kafka: its quorum's voters that are also brokers."""
    env = compose_services()["kafka"]["environment"]
    assert "broker" in str(env["KAFKA_PROCESS_ROLES"]).split(",")
    return len(str(env["KAFKA_CONTROLLER_QUORUM_VOTERS"]).split(","))


# --- init SQL ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InitSql:
    roles: dict[str, str | None]  # login role -> psql variable holding its password
    databases: dict[str, str]  # database -> owner
    getenv: dict[str, str]  # psql variable -> environment variable


def init_sql() -> InitSql:
    text = INIT_SQL.read_text()
    roles: dict[str, str | None] = {}
    for statement in re.finditer(r"CREATE\s+(?:ROLE|USER)\s+(\w+)([^;]*);", text, re.I):
        password = re.search(r"PASSWORD\s+:'(\w+)'", statement[2], re.I)
        roles[statement[1]] = password[1] if password else None
    databases = {
        m["db"]: m["owner"]
        for m in re.finditer(
            r"CREATE\s+DATABASE\s+(?P<db>\w+)\s+[^;]*?OWNER\s*=?\s*(?P<owner>\w+)", text, re.I
        )
    }
    getenv = {m[1]: m[2] for m in re.finditer(r"^\\getenv\s+(\w+)\s+(\w+)", text, re.M)}
    return InitSql(roles, databases, getenv)


# --- Kubernetes --------------------------------------------------------------------------------


def k8s_files() -> list[Path]:
    return sorted(p for p in K8S.iterdir() if p.suffix in {".yaml", ".yml"})


def load_docs(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@cache
def kustomization() -> Doc:
    data: Doc = yaml.safe_load(KUSTOMIZATION.read_text())
    return data


@cache
def k8s_docs() -> tuple[Doc, ...]:
    """Every object ``kubectl apply -k deploy/k8s`` applies."""
    return tuple(doc for name in kustomization()["resources"] for doc in load_docs(K8S / name))


def of_kind(kind: str) -> list[Doc]:
    return [doc for doc in k8s_docs() if doc.get("kind") == kind]


def named(kind: str, name: str) -> Doc:
    found = [doc for doc in of_kind(kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def containers(deployment: Doc) -> list[Doc]:
    found: list[Doc] = deployment["spec"]["template"]["spec"]["containers"]
    return found


def deployment_for(service: str) -> tuple[Doc, Doc]:
    """The Deployment and container that run ``python -m services.<service>``."""
    found = [
        (deployment, container)
        for deployment in of_kind("Deployment")
        for container in containers(deployment)
        if service_of_command([*container.get("command", []), *container.get("args", [])])
        == service
    ]
    assert len(found) == 1, f"{service}: expected one Deployment container, found {len(found)}"
    return found[0]


FILLED_IN = {
    ("privacy-secrets", "master-key"): base64.b64encode(bytes(range(32))).decode(),
    ("privacy-secrets", "pepper"): base64.b64encode(bytes(range(32, 64))).decode(),
}
"""What an operator puts where secret.example.yaml says CHANGE-ME and a password will not
do: the settings refuse a master key that is not base64 of 32 bytes."""


def secret_example_values() -> dict[tuple[str, str], str]:
    """(secret name, key) -> example value, from secret.example.yaml."""
    values: dict[tuple[str, str], str] = {}
    for doc in load_docs(SECRET_EXAMPLE):
        assert doc["kind"] == "Secret"
        for key, value in (doc.get("stringData") or {}).items():
            values[(doc["metadata"]["name"], key)] = str(value)
        for key in doc.get("data") or {}:
            values[(doc["metadata"]["name"], key)] = "<base64>"
    return values


def container_env(container: Doc) -> dict[str, str]:
    """The environment a container gets: its ConfigMaps, then its own ``env`` entries.

    Values from Secrets are taken from secret.example.yaml, filled in (see FILLED_IN).
    """
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = named("ConfigMap", source["configMapRef"]["name"]).get("data") or {}
            env.update({f"{source.get('prefix', '')}{k}": str(v) for k, v in data.items()})
    examples = secret_example_values()
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
        elif ref := entry.get("valueFrom", {}).get("secretKeyRef"):
            example = examples.get((ref["name"], ref["key"]), "")
            filled = FILLED_IN.get((ref["name"], ref["key"]), example)
            env[entry["name"]] = filled if example == "CHANGE-ME" else example
        elif ref := entry.get("valueFrom", {}).get("configMapKeyRef"):
            env[entry["name"]] = str(named("ConfigMap", ref["name"])["data"][ref["key"]])
    return env


def resolve_port(container: Doc, port: int | str) -> int:
    """A port number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    for entry in container.get("ports", []):
        if entry.get("name") == port:
            return int(entry["containerPort"])
    raise AssertionError(f"container {container['name']} has no port named {port!r}")


def probes(container: Doc) -> Iterator[tuple[str, Doc]]:
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        if kind in container:
            yield kind, container[kind]


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_labels(deployment: Doc) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"].get("labels", {})
    return labels


def http_routes() -> set[str]:
    """The paths ``services/kernel/health.py`` registers with ``@app.get(...)``."""
    return set(re.findall(r"@app\.get\(\s*\"([^\"]+)\"", HEALTH_MODULE.read_text()))


# --- Dockerfile --------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical: list[str] = []
    current = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            logical.append(current.strip())
        current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def dockerfile_final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def dockerfile_env() -> dict[str, str]:
    """``ENV KEY=VALUE ...`` of the final stage."""
    env: dict[str, str] = {}
    for name, args in dockerfile_final_stage():
        if name == "ENV":
            for token in args.split():
                key, equals, value = token.partition("=")
                if equals:
                    env[key] = value
    return env
