"""``python -m services.operator run``: the whole system, supervised, with the demo data."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from typing import TYPE_CHECKING, Annotated

import asyncpg
import typer

from services.operator.options import DEFAULT_ISSUER_PORT, ROOT, console

if TYPE_CHECKING:
    from services.operator.demo import ResetPlan


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


def run(
    as_of: Annotated[
        str,
        typer.Option(
            help="Run the services' clocks as of this moment ('' for now). The outreach day, "
            "after the lists of 1 December and before the meeting's deadline of 3 December: "
            "2021-12-02T10:00+01:00"
        ),
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
        "NOTIFICATIONS_WEB_URL": processes["web"].url,
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

    # SIGTERM (timeout, a supervisor) must stop the services too, not orphan them. SIGINT
    # explicitly as well: a shell starts a background job (`make run &`) with SIGINT
    # ignored, and Python then installs no KeyboardInterrupt of its own.
    signal.signal(signal.SIGINT, interrupted)
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
            f"  Outreach:      {web}/drift#opsoegende (the lists of 1 December 2021"
            + (
                "; the outreach day is --as-of 2021-12-02T10:00+01:00)\n"
                if as_of == demo.DEMO_AS_OF
                else ")\n"
            )
            + f"  Statistics:    {membership}/networks/knub/statistics\n"
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
