"""What the operator's commands share: where the project is, the console, common options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.sh"
DEFAULT_ISSUER_PORT = "9400"

console = Console()

BootstrapOpt = Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS")]
IssuerOpt = Annotated[str, typer.Option(envvar="ISSUER_URL", help="The development token issuer")]
