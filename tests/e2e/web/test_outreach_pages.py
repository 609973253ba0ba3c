"""The outreach on the pages, in a real browser over the real services.

The 2021 lists are imported through the membership service's API; the operators' page lists
the municipalities on them with filters and invites one; the municipality's page shows its
listed areas and the invitation; the statistics show charts, tables and CSV. axe checks the
pages on desktop and phone, and the screenshots go to docs/screenshots.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.web.conftest import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    Stack,
    run_async,
    serious_violations,
    signed_in,
)
from tests.support.waiting import wait_until

LIST_CSV = (
    Path(__file__).resolve().parents[3] / "services/operator/demo_data/area-list-2021-12-01.csv"
)
ODENSE = "461"


@pytest.fixture(scope="module", autouse=True)
def outreach(stack: Stack) -> str:
    """The 2021 lists imported, two members of 2021 (one renewed into 2022) and a meeting
    with the offer; the meeting's id."""
    answer = httpx.post(
        f"{stack.membership.url}/area-lists",
        content=LIST_CSV.read_bytes(),
        headers={**stack.operator, "Content-Type": "text/csv"},
        params={"partial": "true"},
        timeout=10,
    )
    assert answer.status_code in (200, 201), answer.text
    stack.join("101", 2021)
    stack.join("751", 2021)
    meeting_id = stack.schedule(seats=40, offer=True, title="Årets sidste netværksmøde")

    async def known() -> bool:
        async with httpx.AsyncClient(headers=stack.operator, timeout=10) as client:
            view = await client.get(f"{stack.membership.url}/networks/knub/outreach/2021")
        offer = view.json().get("offer_meeting") if view.status_code == 200 else None
        return offer is not None and offer["meeting_id"] == meeting_id

    run_async(wait_until(known, timeout=30, what="the list and the offer in the outreach"))
    return meeting_id


def outreach_row(page: Page, code: str) -> Any:
    return page.locator(f'#outreach tr[data-municipality="{code}"]')


def test_the_operators_page_lists_the_municipalities_on_the_lists_with_filters(
    page: Page, stack: Stack
) -> None:
    page.goto(f"{stack.web_url}/drift")
    counts = page.locator("#outreach-counts")
    expect(counts.locator("li", has_text="på listen")).to_contain_text("12")
    expect(page.locator("#outreach tbody tr")).to_have_count(12)
    expect(page.locator("#outreach-offer")).to_contain_text("Listen er delvis")
    expect(page.locator("#outreach-offer")).to_contain_text("Årets sidste netværksmøde")
    copenhagen = outreach_row(page, "101")
    expect(copenhagen).to_contain_text("Mjølnerparken")
    expect(copenhagen.locator("td").nth(2)).to_have_text("Ja")  # a member in 2021

    page.get_by_label("Vis kommuner").select_option("joined")
    page.get_by_role("button", name="Vis listen").click()
    expect(page.locator("#outreach")).to_contain_text('Ingen kommuner med status "Meldt ind"')
    page.get_by_label("Vis kommuner").select_option("not_invited")
    page.get_by_role("button", name="Vis listen").click()
    expect(page.locator("#outreach tbody tr")).to_have_count(12)


def test_an_operator_invites_a_listed_municipality_and_it_shows_as_invited(
    page: Page, stack: Stack
) -> None:
    page.goto(f"{stack.web_url}/drift")
    row = outreach_row(page, ODENSE)
    row.get_by_label("Kontaktadresse i Odense").fill("ikke-en-adresse")
    row.get_by_role("button", name=re.compile("^Invitér")).click()
    expect(row.locator(".field-error")).to_have_text(
        "Skriv kontaktens e-mailadresse, fx boligsocial@odense.dk."
    )
    expect(row.get_by_label("Kontaktadresse i Odense")).to_have_attribute("aria-invalid", "true")

    row.get_by_label("Kontaktadresse i Odense").fill("boligsocial@odense.example.dk")
    row.get_by_role("button", name=re.compile("^Invitér")).click()

    expect(page.locator("#outreach-action")).to_have_text("Odense: invitationen til 2022 er sendt.")
    expect(row.locator(".status")).to_have_text("Inviteret")
    expect(row.get_by_role("button", name=re.compile("^Send påmindelse"))).to_be_visible()
    assert "boligsocial@odense.example.dk" not in page.locator("#outreach").inner_text()

    async def mailed() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(headers=stack.operator, timeout=10) as client:
            answer = await client.get(
                f"{stack.notifications.url}/deliveries", params={"status": "sent"}
            )
        return [d for d in answer.json()["items"] if d["kind"] == "membership_invitation"]

    [delivery] = run_async(wait_until(mailed, timeout=60, what="the invitation mailed"))
    assert delivery["subject"] == "Invitation til Kommunernes Netværk for Udsatte Boligområder 2022"
    assert delivery["municipality_code"] == ODENSE


def test_a_municipalitys_page_shows_its_listed_areas_and_its_invitation(
    browser: Browser, stack: Stack
) -> None:
    httpx.post(
        f"{stack.membership.url}/networks/knub/invitations",
        json={
            "list_date": "2021-12-01",
            "invitations": [
                {"municipality_code": "607", "contact_email": "bo@fredericia.example.dk"}
            ],
        },
        headers=stack.operator,
        timeout=10,
    ).raise_for_status()
    visitor = browser.new_context(viewport=DESKTOP, locale="da-DK")
    coordinator = browser.new_context(viewport=DESKTOP, locale="da-DK")
    signed_in(coordinator, stack, "coordinator", code="607")
    try:
        page = visitor.new_page()
        page.goto(f"{stack.web_url}/kommuner/607")
        areas = page.locator("#areas")
        expect(areas.get_by_role("heading", level=3)).to_have_text("Listerne fra 1. december 2021")
        expect(areas).to_contain_text("Korskærparken: forebyggelsesområde")
        expect(areas).to_contain_text("Listen i systemet er delvis")
        expect(page.locator("#invitations")).to_be_hidden()

        own = coordinator.new_page()
        own.goto(f"{stack.web_url}/kommuner/607")
        expect(own.locator("#invitations")).to_contain_text(
            "KL inviterede kommunen til Kommunernes Netværk for Udsatte Boligområder for 2022"
        )
        assert "bo@fredericia" not in own.locator("main").inner_text()
    finally:
        visitor.close()
        coordinator.close()


def test_the_statistics_show_charts_tables_and_csv_for_spreadsheets(
    page: Page, stack: Stack
) -> None:
    page.goto(f"{stack.web_url}/drift#statistik")
    members = page.locator("#stats-members")
    expect(members.get_by_role("img")).to_have_accessible_name(re.compile("^Medlemmer pr. år"))
    expect(members.locator("tbody tr", has_text="2021")).to_contain_text("2")
    coverage = page.locator("#stats-coverage")
    expect(coverage.get_by_role("img")).to_have_accessible_name(
        re.compile("Andel medlemmer blandt kommunerne på listen fra 1. december 2021")
    )
    expect(coverage.locator("tbody tr", has_text="alle").first).to_contain_text("12")
    expect(page.locator("#stats-meetings")).to_contain_text("Årets sidste netværksmøde")

    with page.expect_download() as download:
        page.get_by_role("button", name="Hent dækning som CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("\ufeffliste;år;kategori;kommuner på listen;medlemmer;andel (%)")
    assert "2021-12-01;2021;alle;12;2;16,7" in text


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize(
    ("name", "path", "ready", "role"),
    [
        ("drift-opsoegende", "/drift#opsoegende", "#outreach table", "operator"),
        ("kommune-omraader", f"/kommuner/{ODENSE}", "#areas ul", "coordinator"),
    ],
)
def test_the_outreach_pages_have_no_serious_accessibility_violations(
    browser: Browser, stack: Stack, name: str, path: str, ready: str, role: str, viewport: str
) -> None:
    options: dict[str, Any] = {"viewport": DESKTOP if viewport == "desktop" else PHONE}
    if viewport == "phone":
        options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
    context = browser.new_context(locale="da-DK", **options)
    signed_in(context, stack, role, code=ODENSE) if role == "coordinator" else signed_in(
        context, stack
    )
    try:
        page = context.new_page()
        page.goto(stack.web_url + path)
        expect(page.locator(ready).first).to_be_visible()
        if name == "drift-opsoegende":
            expect(page.locator("#stats-members svg")).to_be_visible()
            page.locator("#opsoegende").scroll_into_view_if_needed()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{name}-{viewport}.png", full_page=True)

        assert serious_violations(page) == []
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        context.close()
