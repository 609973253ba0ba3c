"""deploy/local/kafka/properties.py: a Kafka node's server.properties from template and overlays."""

from __future__ import annotations

import importlib.util
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
KAFKA = ROOT / "deploy" / "local" / "kafka"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("local_kafka_properties", KAFKA / "properties.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


properties = load()

TEMPLATE = """# the template
node.id=@NODE@
listeners=PLAINTEXT://127.0.0.1:@PORT@
# quorum
controller.quorum.bootstrap.servers=127.0.0.1:9
num.partitions=3
"""


def settings(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_an_overlay_replaces_keys_where_they_stand_and_adds_its_new_keys_at_the_end() -> None:
    overlay = "# more\nlisteners=SASL_PLAINTEXT://127.0.0.1:1\n# its own\nsasl.enabled=yes\n"
    lines = properties.merge(TEMPLATE, [overlay], set())
    text = properties.fill(lines, {"NODE": "2", "PORT": "7"})
    assert text.splitlines()[2] == "listeners=SASL_PLAINTEXT://127.0.0.1:1"
    assert text.endswith("# its own\nsasl.enabled=yes\n")
    assert settings(text)["node.id"] == "2"


def test_later_overlays_win_and_unset_keys_are_gone() -> None:
    lines = properties.merge(
        TEMPLATE,
        ["num.partitions=6\n", "num.partitions=12\n"],
        {"controller.quorum.bootstrap.servers"},
    )
    text = properties.fill(lines, {"NODE": "1", "PORT": "7"})
    values = settings(text)
    assert values["num.partitions"] == "12"
    assert "controller.quorum.bootstrap.servers" not in values
    assert "# quorum" not in text  # the comment about the key went with it
    assert text.startswith("# the template\n")


def test_a_placeholder_without_a_value_is_named() -> None:
    with pytest.raises(properties.PropertiesError, match="@PORT@"):
        properties.fill(properties.merge(TEMPLATE, [], set()), {"NODE": "1"})


def test_the_stacks_templates_render_and_the_file_is_private(tmp_path: Path) -> None:
    output = tmp_path / "server.properties"
    code = properties.main(
        [
            str(KAFKA / "server.properties.template"),
            str(KAFKA / "scram.properties.template"),
            "--output",
            str(output),
            *("--var", "KAFKA_NODE_ID=1", "--var", "KAFKA_PORT=1", "--var", "KAFKA_SSL_PORT=2"),
            *("--var", "KAFKA_CONTROLLER_PORT=3", "--var", "KAFKA_DATA_DIR=/d"),
            *("--var", "KAFKA_TLS_DIR=/t", "--var", "BROKER_USER=u", "--var", "BROKER_PASSWORD=p"),
        ]
    )
    assert code == 0
    values = settings(output.read_text())
    assert values["listeners"].startswith("SASL_PLAINTEXT://127.0.0.1:1,SASL_SSL://127.0.0.1:2")
    assert values["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    assert values["log.dirs"] == "/d"
    assert stat.S_IMODE(output.stat().st_mode) == 0o600


def test_a_cluster_nodes_file_names_every_voter_and_keeps_three_copies(tmp_path: Path) -> None:
    output = tmp_path / "server.properties"
    code = properties.main(
        [
            str(KAFKA / "server.properties.template"),
            str(KAFKA / "cluster.properties.template"),
            "--output",
            str(output),
            "--unset",
            "controller.quorum.bootstrap.servers",
            *("--var", "KAFKA_NODE_ID=2", "--var", "KAFKA_PORT=19193"),
            *("--var", "KAFKA_CONTROLLER_PORT=19196", "--var", "KAFKA_DATA_DIR=/d"),
            *("--var", "KAFKA_VOTERS=1@127.0.0.1:19195,2@127.0.0.1:19196,3@127.0.0.1:19197"),
        ]
    )
    assert code == 0
    text = output.read_text()
    values = settings(text)
    assert values["node.id"] == "2"
    assert values["process.roles"] == "broker,controller"
    assert values["controller.quorum.voters"] == (
        "1@127.0.0.1:19195,2@127.0.0.1:19196,3@127.0.0.1:19197"
    )
    assert "controller.quorum.bootstrap.servers" not in values
    assert "which requires the" not in text  # the comment on the removed key went with it
    assert values["listeners"] == "PLAINTEXT://127.0.0.1:19193,CONTROLLER://127.0.0.1:19196"
    replication = {k: v for k, v in values.items() if "replication.factor" in k}
    assert set(replication.values()) == {"3"}
    in_sync = {k: v for k, v in values.items() if k.endswith("min.isr") or k.startswith("min.")}
    assert set(in_sync.values()) == {"2"}
