"""The operator's privacy commands: erase a person, rewrap the data keys after a rotation."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer

from services.kernel.auth import DEV_ISSUER
from services.kernel.privacy import PrivacySettings
from services.operator.options import IssuerOpt, console


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
