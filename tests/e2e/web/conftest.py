"""The three services and the web front end as real processes, and a real Chromium.

The processes start once per test module (they take seconds to start); each test schedules
its own meeting, so tests do not see each other's seats. The clock runs as of the demo date,
19 November 2021, in every process.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from services.kernel.auth import Role
from services.kernel.db import drop_database, with_database
from services.operator.dev_issuer import mint
from services.operator.processes import ServiceProcess
from tests.support.kafka import delete_topics
from tests.support.ports import free_port
from tests.support.stack import ADMIN_DSN, KAFKA_BOOTSTRAP, SMTP_HOST, SMTP_PORT

T = TypeVar("T")

AS_OF = "2021-11-19T09:00:00+01:00"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# The pages' pictures go to var/ on every run; `make screenshots` writes the committed ones
# in docs/screenshots (a test run leaves the tracked files as they were).
SCREENSHOTS = Path(
    os.environ.get("KL_SCREENSHOTS") or Path(__file__).resolve().parents[3] / "var" / "screenshots"
)

# Projections follow Kafka: give what the pages show a few seconds to arrive.
expect.set_options(timeout=15_000)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from a test: in a thread of its own, because Playwright's
    sync API keeps an event loop running on the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass
class Stack:
    """The running processes and a way to set up data through the services' own APIs."""

    membership: ServiceProcess
    events: ServiceProcess
    notifications: ServiceProcess
    web: ServiceProcess
    issuer: ServiceProcess

    @property
    def issuer_url(self) -> str:
        return self.issuer.url

    def token(
        self, role: Role = "operator", code: str | None = None, email: str | None = None
    ) -> str:
        """A token from the stack's development issuer."""
        return mint(self.issuer.url, role, code, email)

    @property
    def operator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    @property
    def web_url(self) -> str:
        return self.web.url

    def join(self, code: str, year: int) -> None:
        """Make a municipality a member of KNUB for a year."""
        r = httpx.post(
            f"{self.membership.url}/networks/knub/memberships",
            json={
                "municipality_code": code,
                "year": year,
                "contact_name": "Kontakt Person",
                "contact_email": f"kontakt{code}@kommune.example.dk",
                "ean": "5798000000001",
            },
            timeout=10,
            headers=self.operator,
        )
        assert r.status_code in (200, 201), r.text

    def schedule(self, *, seats: int, offer: bool = False, title: str | None = None) -> str:
        """A new meeting of KNUB for 2021 (the year's last, if ``offer``); its id."""
        slug = f"web-{uuid.uuid4().hex[:8]}"
        r = httpx.post(
            f"{self.events.url}/meetings",
            json={
                "slug": slug,
                "network_slug": "knub",
                "year": 2021,
                "title": title or "3. netværksmøde 2021",
                "description": "Hvordan kommunerne systematiserer anvisning og udlejning.",
                "starts_at": "2021-12-08T10:00:00",
                "ends_at": "2021-12-08T15:30:00",
                "venue_name": "KL-huset",
                "venue_address": "Weidekampsgade 10, 2300 København S",
                "seats": seats,
                "registration_deadline": "2021-12-03T12:00:00",
                "next_year_members_free": offer,
            },
            timeout=10,
            headers=self.operator,
        )
        assert r.status_code == 201, r.text
        meeting_id: str = r.json()["meeting_id"]
        program = httpx.put(
            f"{self.events.url}/meetings/{meeting_id}/program",
            json={
                "items": [
                    {
                        "starts_at": "2021-12-08T10:00:00",
                        "title": "Velkomst og nyt fra KL",
                        "speaker": "KL, Kontor for Boligpolitik",
                    },
                    {
                        "starts_at": "2021-12-08T10:30:00",
                        "title": "Boligsocial monitorering i praksis",
                        "speaker": "Aarhus Kommune",
                    },
                    {"starts_at": "2021-12-08T12:00:00", "title": "Frokost"},
                    {
                        "starts_at": "2021-12-08T13:00:00",
                        "title": "Housing first og strategiske aftaler med boligorganisationer",
                    },
                ]
            },
            timeout=10,
            headers=self.operator,
        )
        assert program.status_code == 200, program.text
        return meeting_id

    def registrations_of(self, code: str) -> list[dict[str, Any]]:
        """A municipality's registrations as the events service's read model has them."""
        r = httpx.get(
            f"{self.events.url}/municipalities/{code}/registrations",
            timeout=10,
            headers=self.operator,
        )
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()
        return rows

    def register(self, meeting_id: str, name: str, code: str) -> dict[str, Any]:
        """Register a participant through the events API (not the page)."""
        r = httpx.post(
            f"{self.events.url}/meetings/{meeting_id}/registrations",
            json={
                "name": name,
                "email": f"{uuid.uuid4().hex[:8]}@kommune.example.dk",
                "job_title": "Boligsocial koordinator",
                "municipality_code": code,
            },
            timeout=10,
            headers=self.operator,
        )
        assert r.status_code in (201, 202), r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """membership, events, notifications and web, each its own process, fresh databases."""
    token = uuid.uuid4().hex[:10]
    prefix = f"t{token}."
    logs = tmp_path_factory.mktemp("logs")
    databases = {
        name: with_database(ADMIN_DSN, f"t_web_{name}_{token}")
        for name in ("membership", "events", "notifications")
    }

    issuer = ServiceProcess(
        "issuer",
        free_port(),
        {},
        logs / "issuer.log",
        module="services.operator",
        args=("dev-issuer",),
    )

    def common(service: str) -> dict[str, str]:
        env_prefix = service.upper()
        return {
            f"{env_prefix}_AUTH__ISSUER": issuer.url,
            f"{env_prefix}_AUTH__JWKS_URL": f"{issuer.url}/jwks.json",
            f"{env_prefix}_DATABASE_URL": databases[service],
            f"{env_prefix}_KAFKA__BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
            f"{env_prefix}_KAFKA__TOPIC_PREFIX": prefix,
            f"{env_prefix}_CLOCK_AS_OF": AS_OF,
        }

    membership = ServiceProcess(
        "membership", free_port(), common("membership"), logs / "membership.log"
    )
    events = ServiceProcess(
        "events",
        free_port(),
        {**common("events"), "EVENTS_MEMBERSHIP_URL": membership.url},
        logs / "events.log",
    )
    notifications = ServiceProcess(
        "notifications",
        free_port(),
        {
            **common("notifications"),
            "NOTIFICATIONS_SMTP_HOST": SMTP_HOST,
            "NOTIFICATIONS_SMTP_PORT": str(SMTP_PORT),
        },
        logs / "notifications.log",
    )
    web = ServiceProcess(
        "web",
        free_port(),
        {
            "WEB_MEMBERSHIP_URL": membership.url,
            "WEB_EVENTS_URL": events.url,
            "WEB_NOTIFICATIONS_URL": notifications.url,
            "WEB_CLOCK_AS_OF": AS_OF,
            "WEB_ISSUER_URL": issuer.url,
        },
        logs / "web.log",
    )
    processes: list[ServiceProcess] = [issuer, membership, events, notifications, web]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(timeout=90)
        yield Stack(membership, events, notifications, web, issuer)
    finally:
        for process in processes:
            process.stop()

        async def drop_all() -> None:
            for dsn in databases.values():
                await drop_database(dsn)
            await delete_topics(prefix)

        run_async(drop_all())


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The machine's Chromium (Debian's package), headless."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


SIGN_IN = """
if (!sessionStorage.getItem("kl.devsignin")) {
  sessionStorage.setItem("kl.devsignin", JSON.stringify(%s));
}
"""


def signed_in(ctx: BrowserContext, stack: Stack, role: Role = "operator", **who: str) -> None:
    """Every page of ``ctx`` starts signed in (as the development sign-in would leave it)."""
    session = {"token": stack.token(role, who.get("code"), who.get("email")), "role": role}
    ctx.add_init_script(SIGN_IN % json.dumps(session))


@pytest.fixture
def anonymous_context(browser: Browser) -> Iterator[BrowserContext]:
    """A browser context that has not signed in."""
    ctx = browser.new_context(viewport=DESKTOP, locale="da-DK", timezone_id="Europe/Copenhagen")
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def context(browser: Browser, stack: Stack) -> Iterator[BrowserContext]:
    """A browser context signed in as an operator (KL staff may use every page)."""
    ctx = browser.new_context(viewport=DESKTOP, locale="da-DK", timezone_id="Europe/Copenhagen")
    ctx.set_default_timeout(15_000)
    signed_in(ctx, stack)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test if its scripts throw an uncaught error."""
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda error: errors.append(str(error)))
    yield new_page
    assert errors == [], f"uncaught errors in the page's scripts: {errors}"


def serious_violations(page: Page) -> list[str]:
    """What axe finds serious or critical on the page (empty: none)."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
