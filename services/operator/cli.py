"""``python -m services.operator``: the operator's command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from services.kernel import deadletters
from services.kernel.auth import DEFAULT_AUDIENCE, DEV_ISSUER, Role
from services.kernel.kafka import KafkaSettings, dead_letter_topic, kafka_settings_from_env
from services.kernel.privacy import PrivacySettings
from services.operator import kafka_tools

if TYPE_CHECKING:
    from services.operator.demo import ResetPlan

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.sh"
DEFAULT_ISSUER_PORT = "9400"

app = typer.Typer(help="Operate KL's network services.", no_args_is_help=True)
stack_app = typer.Typer(help="The local stack: Kafka, PostgreSQL, SMTP sink.")
dlt_app = typer.Typer(help="Dead-lettered messages.")
app.add_typer(stack_app, name="stack")
app.add_typer(dlt_app, name="dlt")
console = Console()

BootstrapOpt = Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS")]
IssuerOpt = Annotated[str, typer.Option(envvar="ISSUER_URL", help="The development token issuer")]


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
def erase(
    email: Annotated[
        str | None, typer.Option(help="The person's e-mail; '-' reads it from standard input")
    ] = None,
    person_id: Annotated[str | None, typer.Option(help="The person id events carry")] = None,
    events_url: Annotated[str, typer.Option(envvar="EVENTS_URL")] = "http://127.0.0.1:8002",
    issuer_url: IssuerOpt = DEV_ISSUER,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="KL_OPERATOR_TOKEN",
            help="An operator token (default: one from the development issuer)",
        ),
    ] = None,
) -> None:
    """Erase a person's personal data everywhere (GDPR art. 17), through the events
    service's POST /persons/erasures; prints the person id. With '--email -' the address
    stays out of the shell's history and the process list."""
    import httpx

    from services.operator.dev_issuer import mint

    if (email is None) == (person_id is None):
        console.print("[red]give either --email or --person-id[/]")
        raise typer.Exit(2)
    if email == "-":
        email = sys.stdin.readline().strip()
    body = {"email": email} if email is not None else {"person_id": person_id}
    bearer = token or mint(issuer_url, "operator")
    try:
        response = httpx.post(
            f"{events_url.rstrip('/')}/persons/erasures",
            json=body,
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]the events service did not answer[/] at {events_url}: {exc!r}")
        raise typer.Exit(1) from exc
    if response.status_code != 202:
        problem = response.json() if "json" in response.headers.get("content-type", "") else {}
        title = problem.get("title", response.reason_phrase)
        console.print(f"[red]not erased[/] (HTTP {response.status_code}): {title}")
        lines = [problem.get("detail_en") or problem.get("detail")]
        lines += [f"{e.get('field')}: {e.get('message')}" for e in problem.get("errors", [])]
        for line in filter(None, lines):
            console.print(f"  {line}", markup=False)
        raise typer.Exit(1)
    answer = response.json()
    state = "erased now" if answer["published"] else "had been erased before"
    print(json.dumps(answer))
    typer.echo(f"{answer['person_id']}: {state}", err=True)


@app.command("rewrap-keys")
def rewrap_keys(
    service: Annotated[
        str,
        typer.Option(help="Read the vault's settings as this service does (<SERVICE>_PRIVACY__*)"),
    ] = "events",
) -> None:
    """After a master-key rotation: wrap every person's data key under the current master
    key (idempotent; docs/privacy.md has the whole procedure)."""
    from pydantic import ValidationError

    from services.kernel.privacy import MasterKeyError, Vault

    async def rewrap(settings: PrivacySettings) -> tuple[int, int]:
        vault = Vault(settings)
        try:
            return await vault.rewrap()
        finally:
            await vault.close()

    try:
        settings = _vault_settings(service)
    except ValidationError as exc:
        console.print(f"[red]settings refused[/]: {exc}")
        raise typer.Exit(2) from exc
    try:
        rewrapped, current = asyncio.run(rewrap(settings))
    except MasterKeyError as exc:
        console.print(f"[red]stopped[/]: {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"rewrapped {rewrapped} data key(s); {current} already under the current master key"
    )


def _vault_settings(service: str) -> PrivacySettings:
    """The vault's settings as ``service`` reads them (every service shares the vault)."""
    if service == "membership":
        from services.membership.config import Settings as MembershipSettings

        return MembershipSettings().privacy
    if service == "events":
        from services.events.config import Settings as EventsSettings

        return EventsSettings().privacy
    if service == "notifications":
        from services.notifications.config import Settings as NotificationsSettings

        return NotificationsSettings().privacy
    console.print("[red]--service is membership, events or notifications[/]")
    raise typer.Exit(2)


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


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _say(line: str) -> None:
    """A line of the supervisor's log: the time, then what happened."""
    console.print(
        f"{time.strftime('%H:%M:%S')} {line}", markup=False, highlight=False, soft_wrap=True
    )


def _reset_plan() -> ResetPlan:
    """The services' databases and topics as the services will see them (their settings)."""
    from services.events.config import Settings as EventsSettings
    from services.membership.config import Settings as MembershipSettings
    from services.notifications.config import Settings as NotificationsSettings
    from services.operator.demo import ResetPlan

    every = (MembershipSettings(), EventsSettings(), NotificationsSettings())
    databases = [s.database_url for s in every] + [s.privacy.database_url for s in every]
    kafka = every[1].kafka
    return ResetPlan(databases=databases, kafka=kafka, topic_prefix=kafka.topic_prefix)


@app.command()
def run(
    as_of: Annotated[
        str, typer.Option(help="Run the services' clocks as of this moment ('' for now)")
    ] = "2021-11-19T09:00:00+01:00",
    with_demo: Annotated[
        bool, typer.Option(help="Load what is missing of the seed's demo data")
    ] = True,
    reset_demo: Annotated[
        bool,
        typer.Option(
            help="Start from the seed's state: delete the services' databases and Kafka topics "
            "first (everything in them is lost), then load the demo fresh"
        ),
    ] = False,
    port_offset: Annotated[
        int, typer.Option(help="Add this to the ports 8000-8003 (a second system beside one)")
    ] = 0,
) -> None:
    """Start the services and the web pages with the demo data, restart any that exits,
    and keep them running until Ctrl-C (or SIGTERM).

    Uses the local stack that ``deploy/local/stack.sh`` runs with the same port variables
    (KAFKA_PORT, PG_PORT, SMTP_PORT, ISSUER_PORT); a service setting given in the
    environment wins.
    """
    from services.events.adapters.demo import seed_database
    from services.operator import demo
    from services.operator.dev_issuer import answers, mint
    from services.operator.processes import (
        DEFAULT_PORT,
        ENV_PREFIX,
        ServiceProcess,
        service_environment,
        stack_environment,
    )
    from services.operator.supervisor import State, Supervisor

    stack = stack_environment(os.environ)
    for name, value in service_environment(stack).items():
        os.environ.setdefault(name, value)
    processes = {
        name: ServiceProcess(name, DEFAULT_PORT[name] + port_offset) for name in ENV_PREFIX
    }
    issuer_port = int(os.environ.get("ISSUER_PORT", DEFAULT_ISSUER_PORT)) + port_offset
    issuer_url = f"http://127.0.0.1:{issuer_port}"
    busy = [f"{p.port} ({p.service})" for p in processes.values() if _port_in_use(p.port)]
    if busy:
        console.print(
            f"[red]port {', '.join(busy)} already in use[/]: is the system running in another "
            "terminal? Stop it (Ctrl-C there), or run a second one beside it with --port-offset."
        )
        raise typer.Exit(2)
    env: dict[str, str] = {
        "WEB_ISSUER_URL": issuer_url,
        "EVENTS_MEMBERSHIP_URL": processes["membership"].url,
        "WEB_MEMBERSHIP_URL": processes["membership"].url,
        "WEB_EVENTS_URL": processes["events"].url,
        "WEB_NOTIFICATIONS_URL": processes["notifications"].url,
    }
    for prefix in ENV_PREFIX.values():
        if as_of:
            env[f"{prefix}_CLOCK_AS_OF"] = as_of
        # The services trust the development issuer (and no inline key set), and use the
        # vault's development key and pepper: a development run, said explicitly.
        env[f"{prefix}_AUTH__ISSUER"] = issuer_url
        env[f"{prefix}_AUTH__JWKS_URL"] = f"{issuer_url}/jwks.json"
        if prefix != "WEB":
            env[f"{prefix}_DEVELOPMENT"] = "true"
        os.environ.pop(f"{prefix}_AUTH__JWKS", None)
    os.environ.update(env)
    for process in processes.values():
        process.env = env
    if reset_demo:
        plan = _reset_plan()
        console.print(plan.describe(), markup=False, highlight=False, soft_wrap=True)
        asyncio.run(demo.reset(plan))
        console.print("reset: done")
    try:
        meeting_created = asyncio.run(seed_database()) if with_demo else False
    except (OSError, asyncpg.PostgresError) as exc:
        console.print(
            f"[red]PostgreSQL did not answer[/] ({type(exc).__name__}: {exc}); "
            "is the stack up? make stack-up, or deploy/local/stack.sh status",
            soft_wrap=True,
        )
        raise typer.Exit(1) from exc
    supervised: list[ServiceProcess] = []
    if not answers(issuer_url):  # the stack's issuer is not up: run one beside the services
        supervised.append(
            ServiceProcess(
                "issuer", issuer_port, {}, module="services.operator", args=("dev-issuer",)
            )
        )
    supervised.extend(processes.values())
    supervisor = Supervisor(supervised, say=_say)

    def interrupted(signum: int, _: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # SIGTERM (timeout, a supervisor) must stop the services too, not orphan them.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    try:
        supervisor.start()
        while not supervisor.settled:
            supervisor.check()
            time.sleep(0.2)  # wait-ok: the supervisor's round, until every service is up
        if with_demo:
            if all(supervisor.state(s) is State.READY for s in ("membership", "events")):
                report = asyncio.run(
                    demo.seed(
                        processes["membership"].url,
                        processes["events"].url,
                        mint(issuer_url, "operator"),
                        meeting_created=meeting_created,
                    )
                )
                for line in report.lines():
                    console.print("  " + line, markup=False, highlight=False, soft_wrap=True)
            else:
                console.print("  demo not looked at: the membership or events service is not ready")
        membership, events, notifications, web = (p.url for p in processes.values())
        console.print(
            "\n[bold]Where to look[/]\n"
            f"  Web pages:     {web}/moeder/meeting-knub-2021-3  {web}/kommuner/851"
            f"  {web}/drift\n"
            f"  API docs:      {membership}/docs  {events}/docs  {notifications}/docs\n"
            f"  Availability:  {events}/meetings/meeting-knub-2021-3/availability\n"
            f"  Live seats:    {events}/meetings/meeting-knub-2021-3/availability/stream\n"
            f"  Roster 2021:   {membership}/networks/knub/roster/2021\n"
            f"  Mails sent:    {stack.get('MAIL_DIR', ROOT / 'var' / 'mail')}"
            " (Maildir of the SMTP sink)\n"
            f"  Service logs:  {ROOT / 'var' / 'log'}\n"
            f"  Tokens:        python -m services.operator token --role operator"
            f" --issuer-url {issuer_url}\n"
            "A service that exits is started again. "
            "Ctrl-C stops the services (the stack keeps running: make stack-down).",
            soft_wrap=True,
        )
        while supervisor.watching:
            supervisor.check()
            time.sleep(0.2)  # wait-ok: the supervisor's round, until Ctrl-C
        console.print("[red]every service was given up[/]: see the messages above")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        supervisor.stop()


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
