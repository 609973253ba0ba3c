"""``python -m services.operator``: the operator's command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from services.kernel import deadletters
from services.kernel.auth import DEFAULT_AUDIENCE, DEV_ISSUER, Role
from services.kernel.kafka import KafkaSettings, dead_letter_topic, kafka_settings_from_env
from services.operator import kafka_tools
from services.operator.areas import areas_app
from services.operator.options import ROOT, STACK, BootstrapOpt, IssuerOpt, console
from services.operator.privacy_commands import erase, rewrap_keys
from services.operator.run_command import run

if TYPE_CHECKING:
    pass

app = typer.Typer(help="Operate KL's network services.", no_args_is_help=True)
stack_app = typer.Typer(help="The local stack: Kafka, PostgreSQL, SMTP sink.")
dlt_app = typer.Typer(help="Dead-lettered messages.")
app.add_typer(stack_app, name="stack")
app.add_typer(dlt_app, name="dlt")
app.add_typer(areas_app, name="areas")


def _kafka(bootstrap: str) -> KafkaSettings:
    """The tools' Kafka: ``--bootstrap``, and SASL/TLS from ``KAFKA_SECURITY_PROTOCOL``,
    ``KAFKA_SASL_MECHANISM``, ``KAFKA_SASL_USERNAME``, ``KAFKA_SASL_PASSWORD``,
    ``KAFKA_SSL_CAFILE`` (as ``KAFKA_SECURITY=scram deploy/local/stack.sh env`` prints them)."""
    return kafka_settings_from_env(os.environ, bootstrap_servers=bootstrap)


def _stack(*args: str) -> None:
    raise typer.Exit(subprocess.call([str(STACK), *args]))  # noqa: S603 - our own script


@stack_app.command("up")
def stack_up() -> None:
    """Start Kafka, PostgreSQL and the SMTP sink (idempotent)."""
    _stack("up")


@stack_app.command("down")
def stack_down() -> None:
    """Stop the local stack."""
    _stack("down")


@stack_app.command("status")
def stack_status() -> None:
    """Which parts of the stack answer."""
    _stack("status")


@app.command()
def topics(bootstrap: BootstrapOpt = "127.0.0.1:19092") -> None:
    """Topics with their record counts, and each consumer group's lag."""
    settings = _kafka(bootstrap)
    counts = asyncio.run(kafka_tools.topics_with_ends(settings))
    lags = asyncio.run(kafka_tools.consumer_lag(settings))
    table = Table("topic", "records")
    for topic, count in counts.items():
        table.add_row(topic, str(count))
    console.print(table)
    lag_table = Table("consumer group", "topic", "lag")
    for lag in lags:
        lag_table.add_row(lag.group, lag.topic, str(lag.lag))
    console.print(lag_table)


@app.command()
def tail(
    topic: str,
    last: Annotated[int, typer.Option("--last", "-n", help="How many records")] = 20,
    bootstrap: BootstrapOpt = "127.0.0.1:19092",
) -> None:
    """The last records of a topic, decoded from CloudEvents."""

    async def collect() -> list[dict[str, object]]:
        records = [
            kafka_tools.describe(r) async for r in deadletters.read_all(_kafka(bootstrap), topic)
        ]
        return records[-last:]

    for record in asyncio.run(collect()):
        console.print_json(json.dumps(record, ensure_ascii=False, default=str))


@dlt_app.command("list")
def dlt_list(topic: str, bootstrap: BootstrapOpt = "127.0.0.1:19092") -> None:
    """Messages dead-lettered by subscribers of TOPIC, with the reason."""

    async def collect() -> list[deadletters.DeadLetter]:
        settings = _kafka(bootstrap)
        return [
            deadletters.as_dead_letter(r)
            async for r in deadletters.read_all(settings, dead_letter_topic(topic))
        ]

    table = Table("dlt offset", "from", "consumer", "reason")
    for letter in asyncio.run(collect()):
        table.add_row(
            f"{letter.partition}:{letter.offset}",
            f"{letter.original_topic} {letter.original_offset}",
            letter.consumer,
            letter.error[:200],
        )
    console.print(table)


@dlt_app.command("replay")
def dlt_replay(
    topic: str,
    offset: Annotated[
        list[int] | None, typer.Option(help="Only these dead-letter offsets (default all)")
    ] = None,
    bootstrap: BootstrapOpt = "127.0.0.1:19092",
) -> None:
    """Publish dead letters of TOPIC to their original topic again (after a fix)."""

    async def run() -> int:
        settings = _kafka(bootstrap)
        letters = [
            deadletters.as_dead_letter(r)
            async for r in deadletters.read_all(settings, dead_letter_topic(topic))
        ]
        chosen = [x for x in letters if offset is None or x.offset in offset]
        return await deadletters.replay(settings, chosen)

    console.print(f"replayed {asyncio.run(run())} message(s)")


@app.command("dev-issuer")
def dev_issuer(
    port: Annotated[int, typer.Option(envvar="ISSUER_PORT")] = 9400,
    host: Annotated[str, typer.Option(envvar="ISSUER_HOST")] = "127.0.0.1",
    audience: str = DEFAULT_AUDIENCE,
) -> None:
    """Run the development token issuer (loopback only; a new key at every start)."""
    import uvicorn

    from services.operator.dev_issuer import LOOPBACK, create_app

    if host not in LOOPBACK:
        console.print("[red]the development issuer listens on loopback only[/]")
        raise typer.Exit(2)
    issuer = f"http://{host}:{port}"
    uvicorn.run(create_app(issuer, audience), host=host, port=port, log_config=None)


@app.command()
def token(
    role: Annotated[str, typer.Option(help="operator, coordinator or participant")],
    municipality: Annotated[
        str | None, typer.Option(help="Municipality code (coordinator, participant)")
    ] = None,
    email: Annotated[str | None, typer.Option(help="E-mail (participant)")] = None,
    issuer_url: IssuerOpt = DEV_ISSUER,
    lifetime: Annotated[int, typer.Option(help="Seconds the token lives")] = 8 * 3600,
) -> None:
    """Print a token for a role from the development issuer (for curl: -H "Authorization:
    Bearer $(python -m services.operator token --role operator)")."""
    from services.operator.dev_issuer import mint

    if role not in ("operator", "coordinator", "participant"):
        console.print("[red]--role is operator, coordinator or participant[/]")
        raise typer.Exit(2)
    chosen: Role = role  # type: ignore[assignment]
    try:
        print(mint(issuer_url, chosen, municipality, email, lifetime))
    except Exception as exc:
        console.print(f"[red]no token[/]: {exc}")
        raise typer.Exit(1) from exc


@app.command()
def seed(
    membership_url: str = "http://127.0.0.1:8001",
    events_url: str = "http://127.0.0.1:8002",
    issuer_url: IssuerOpt = DEV_ISSUER,
) -> None:
    """Load what is missing of the seed's demo; what exists is left as it is (the services
    and the issuer must run)."""
    from services.events.adapters.demo import seed_database
    from services.operator import demo
    from services.operator.dev_issuer import mint

    created = asyncio.run(seed_database())
    operator = mint(issuer_url, "operator")
    report = asyncio.run(demo.seed(membership_url, events_url, operator, meeting_created=created))
    for line in report.lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if report.problems:
        raise typer.Exit(1)


app.command()(erase)
app.command("rewrap-keys")(rewrap_keys)
app.command()(run)


@app.command()
def asyncapi() -> None:
    """Regenerate the committed AsyncAPI documents (contracts/asyncapi/)."""
    from services.operator.asyncapi import write_all

    for path in write_all():
        console.print(f"wrote {path.relative_to(ROOT)}")


@app.command()
def openapi() -> None:
    """Regenerate the committed OpenAPI documents (contracts/openapi/)."""
    from services.operator.openapi import write_all

    for path in write_all():
        console.print(f"wrote {path.relative_to(ROOT)}")


def main() -> None:
    app()
