"""``python -m services.operator areas ...``: the yearly area lists, invitations, statistics.

Through the membership service's API with an operator token (``KL_OPERATOR_TOKEN``, else
one from the development issuer); ``rebuild`` works on its database directly. Contact
addresses are read from a file and never printed.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from services.kernel.auth import DEV_ISSUER
from services.operator.options import IssuerOpt, console

areas_app = typer.Typer(
    help="The yearly lists of housing areas, invitations to join, outreach and statistics.",
    no_args_is_help=True,
)

MembershipOpt = Annotated[str, typer.Option(envvar="MEMBERSHIP_URL")]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        envvar="KL_OPERATOR_TOKEN", help="An operator token (default: the development issuer's)"
    ),
]
NetworkOpt = Annotated[str, typer.Option(help="The network's slug")]
MEMBERSHIP = "http://127.0.0.1:8001"
OUTCOMES = {
    "invited": "invited",
    "reminded": "reminded",
    "already_invited": "invited before: nothing sent (--reminder sends again)",
    "member": "a member for the year: not invited",
    "cancelled_member": "its membership of the year is cancelled: not invited (talk to them)",
}


def _client(membership_url: str, token: str | None, issuer_url: str) -> httpx.Client:
    from services.operator.dev_issuer import mint

    bearer = token or mint(issuer_url, "operator")
    return httpx.Client(
        base_url=membership_url.rstrip("/"),
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=30,
    )


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The service's answer; a refusal printed as the service words it, and exit 1."""
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        console.print(
            f"[red]the membership service did not answer[/] at {client.base_url}: {exc!r}"
        )
        raise typer.Exit(1) from exc
    if response.status_code < 400:
        return response
    problem = response.json() if "json" in response.headers.get("content-type", "") else {}
    console.print(
        f"[red]{problem.get('title', response.reason_phrase)}[/] (HTTP {response.status_code})"
    )
    lines = [problem.get("detail_en") or problem.get("detail")]
    for error in problem.get("errors", []):
        where = f"row {error['row']}, {error['column']}" if "row" in error else error.get("field")
        lines.append(f"{where}: {error.get('message_en') or error.get('message')}")
    for line in filter(None, lines):
        console.print(f"  {line}", markup=False)
    raise typer.Exit(1)


def _read(file: Path) -> bytes:
    return sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()


@areas_app.command("import")
def import_list(
    file: Annotated[Path, typer.Argument(help="The CSV ('-': standard input)")],
    partial: Annotated[
        bool, typer.Option(help="The list holds only part of the official lists")
    ] = False,
    membership_url: MembershipOpt = MEMBERSHIP,
    issuer_url: IssuerOpt = DEV_ISSUER,
    token: TokenOpt = None,
) -> None:
    """Import the lists of one 1 December (columns list_date, category, area,
    municipality_code, municipality). All or nothing; the same list again changes nothing."""
    with _client(membership_url, token, issuer_url) as client:
        answer = _call(
            client,
            "POST",
            "/area-lists",
            content=_read(file),
            headers={"Content-Type": "text/csv"},
            params={"partial": str(partial).lower()},
        ).json()
    state = f"imported as revision {answer['revision']}" if answer["changed"] else "unchanged"
    per = ", ".join(f"{n} {c}" for c, n in sorted(answer["areas_per_category"].items()))
    console.print(
        f"list of {answer['list_date']}: {state}; {answer['rows']} rows in "
        f"{answer['municipalities']} municipalities ({per})"
        + ("; partial" if answer["partial"] else ""),
        markup=False,
    )


def read_contacts(text: str) -> list[dict[str, str]]:
    """The invitations of a CSV with the columns municipality_code, contact_email and,
    optionally, contact_name (comma or semicolon)."""
    header = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if header.count(";") > header.count(",") else ","
    rows = []
    for record in csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter):
        cells = {(k or "").strip(): (v or "").strip() for k, v in record.items() if k}
        if not any(cells.values()):
            continue
        entry = {
            "municipality_code": cells.get("municipality_code", ""),
            "contact_email": cells.get("contact_email", ""),
        }
        if cells.get("contact_name"):
            entry["contact_name"] = cells["contact_name"]
        rows.append(entry)
    return rows


@areas_app.command("invite")
def invite(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: municipality_code, contact_email[, contact_name] ('-': standard input)"
        ),
    ],
    list_date: Annotated[str, typer.Option(help="The lists they are on")] = "2021-12-01",
    meeting: Annotated[
        str | None, typer.Option(help="The meeting of the offer (default: the open one)")
    ] = None,
    reminder: Annotated[bool, typer.Option(help="Send again to those invited before")] = False,
    network: NetworkOpt = "knub",
    membership_url: MembershipOpt = MEMBERSHIP,
    issuer_url: IssuerOpt = DEV_ISSUER,
    token: TokenOpt = None,
) -> None:
    """Invite listed municipalities that are not members, at the addresses in FILE (the
    system never guesses one). Each is invited once; again only with --reminder."""
    body: dict[str, Any] = {
        "list_date": list_date,
        "reminder": reminder,
        "invitations": read_contacts(_read(file).decode("utf-8-sig")),
    }
    if meeting:
        body["meeting_id"] = meeting
    with _client(membership_url, token, issuer_url) as client:
        answer = _call(client, "POST", f"/networks/{network}/invitations", json=body).json()
    table = Table("code", "municipality", "outcome")
    for result in answer["results"]:
        table.add_row(
            result["municipality_code"],
            result["municipality_name"],
            OUTCOMES.get(result["outcome"], result["outcome"]),
        )
    console.print(table)
    offer = f"; the offer of {answer['meeting_id']}" if answer["meeting_id"] else "; no offer"
    console.print(f"{answer['sent']} mail(s) to be sent, for {answer['year']}{offer}")


@areas_app.command("outreach")
def outreach(
    year: Annotated[int, typer.Option(help="The year of the list (1 December)")] = 2021,
    status: Annotated[
        str | None, typer.Option(help="not_invited, invited or joined (default: all)")
    ] = None,
    network: NetworkOpt = "knub",
    membership_url: MembershipOpt = MEMBERSHIP,
    issuer_url: IssuerOpt = DEV_ISSUER,
    token: TokenOpt = None,
) -> None:
    """The listed municipalities: areas, member for the coming year, invited, joined."""
    params = {"status": status} if status else {}
    with _client(membership_url, token, issuer_url) as client:
        answer = _call(client, "GET", f"/networks/{network}/outreach/{year}", params=params).json()
    table = Table(
        "code", "municipality", "categories", "status", "invited", "joined", "in the offer", "came"
    )
    for row in answer["items"]:
        table.add_row(
            row["municipality_code"],
            row["municipality_name"],
            ", ".join(row["categories"]),
            row["status"],
            (row["invited_at"] or "")[:16],
            (row["joined_at"] or "")[:16],
            "yes" if row["joined_while_offer_open"] else "",
            {True: "yes", False: "no", None: ""}[row["staff_came"]],
        )
    console.print(table)
    console.print(
        f"list of {answer['list_date']}{' (partial)' if answer['partial'] else ''}, for "
        f"{answer['year']}: " + json.dumps(answer["totals"])
    )


@areas_app.command("statistics")
def statistics(
    csv_table: Annotated[
        str | None,
        typer.Option("--csv", help="Print one table as CSV: members, meetings or coverage"),
    ] = None,
    network: NetworkOpt = "knub",
    membership_url: MembershipOpt = MEMBERSHIP,
    issuer_url: IssuerOpt = DEV_ISSUER,
    token: TokenOpt = None,
) -> None:
    """The network's statistics (members per year, meetings, coverage of the lists)."""
    with _client(membership_url, token, issuer_url) as client:
        if csv_table:
            path = f"/networks/{network}/statistics.csv"
            sys.stdout.write(_call(client, "GET", path, params={"table": csv_table}).text)
            return
        answer = _call(client, "GET", f"/networks/{network}/statistics").json()
    for name, rows in (("members", answer["members"]), ("meetings", answer["meetings"]),
                       ("coverage", answer["coverage"])):  # fmt: skip
        if not rows:
            continue
        table = Table(*rows[0].keys(), title=name)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row.values()))
        console.print(table)


@areas_app.command("rebuild")
def rebuild() -> None:
    """Rebuild the roster and the outreach's read models: memberships, lists and invitations
    from the membership service's event store, the meeting facts from the meetings topic
    (safe while the service runs; the settings are the service's, MEMBERSHIP_*)."""
    from rich.progress import Progress

    from services.membership.operations import rebuild_outreach

    with Progress(console=console) as progress:
        tasks: dict[str, Any] = {}

        def report(part: str, applied: int) -> None:
            if part not in tasks:
                tasks[part] = progress.add_task(part, total=None)
            progress.update(tasks[part], completed=applied, description=f"{part}: {applied}")

        done = asyncio.run(rebuild_outreach(progress=report))
    console.print(
        f"rebuilt: {done.memberships} membership events, {done.lists_and_invitations} list "
        f"and invitation events, {done.meeting_events} meeting events"
    )
