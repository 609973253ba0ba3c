"""What the pages send and fetch: a random Idempotency-Key with each form, every page of a
long list. In a module (and a stack) of their own: the big meeting would otherwise show in
test_pages.py's screenshots."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.web.conftest import DESKTOP, Stack, run_async, signed_in
from tests.support.waiting import wait_until

MEMBER_2021 = "751"  # Aarhus


@pytest.fixture(scope="module", autouse=True)
def members(stack: Stack) -> None:
    stack.join(MEMBER_2021, 2021)


def open_meeting(page: Page, stack: Stack, meeting_id: str) -> None:
    page.goto(f"{stack.web_url}/moeder/{meeting_id}")
    expect(page.locator("#meeting")).to_be_visible()


def fill_registration(page: Page, *, name: str, email: str, municipality: str) -> None:
    page.get_by_label("Navn", exact=True).fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Stilling").fill("Områdeleder")
    page.get_by_label("Kommune").fill(municipality)
    page.get_by_role("button", name="Tilmeld").click()


UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_without_crypto_random_uuid_the_pages_still_send_random_idempotency_keys(
    browser: Browser, stack: Stack
) -> None:
    """crypto.randomUUID exists only in a secure context (https or loopback): a page served
    over plain http must not fall back to a timestamp, which two people can share."""
    ctx = browser.new_context(viewport=DESKTOP, locale="da-DK", timezone_id="Europe/Copenhagen")
    ctx.set_default_timeout(15_000)
    signed_in(ctx, stack)
    ctx.add_init_script("delete Crypto.prototype.randomUUID;")
    keys: list[str] = []
    try:
        page = ctx.new_page()
        page.on(
            "request",
            lambda r: (
                keys.append(r.headers["idempotency-key"])
                if "idempotency-key" in r.headers
                else None
            ),
        )
        meeting_id = stack.schedule(seats=10)
        open_meeting(page, stack, meeting_id)
        assert page.evaluate("typeof crypto.randomUUID") == "undefined"
        for n in range(2):
            fill_registration(
                page, name=f"Nøgle {n}", email=f"noegle{n}@aarhus.example.dk", municipality="751"
            )
            expect(page.locator("#register-result")).to_contain_text("Du har fået en plads")
    finally:
        ctx.close()
    assert len(keys) == 2, keys
    assert all(UUID4.match(key) for key in keys), keys
    assert keys[0] != keys[1]


def test_the_dashboard_lists_every_participant_of_a_meeting_bigger_than_a_page(
    page: Page, stack: Stack
) -> None:
    meeting_id = stack.schedule(seats=600)
    count = 501  # the pages ask 500 a page: two pages

    async def register_all() -> None:
        token = {"Authorization": f"Bearer {stack.token()}"}
        async with httpx.AsyncClient(timeout=30, headers=token) as http:
            gate = asyncio.Semaphore(20)

            async def one(n: int) -> None:
                async with gate:
                    r = await http.post(
                        f"{stack.events.url}/meetings/{meeting_id}/registrations",
                        json={
                            "name": f"Deltager {n:03d}",
                            "email": f"deltager{n}.{meeting_id}@aarhus.example.dk",
                            "job_title": "Konsulent",
                            "municipality_code": MEMBER_2021,
                        },
                    )
                    assert r.status_code == 201, r.text

            await asyncio.gather(*(one(n) for n in range(count)))

            async def projected() -> bool:
                r = await http.get(f"{stack.events.url}/meetings/{meeting_id}/availability")
                return bool(r.json()["taken"] == count)

            await wait_until(projected, timeout=60, what="every registration projected")

    run_async(register_all())
    page.goto(f"{stack.web_url}/drift")
    row = page.locator(f'tr[data-meeting="{meeting_id}"]')
    row.get_by_role("button", name=re.compile("^Deltagere")).click()
    rows = page.locator(f'[data-participants="{meeting_id}"] tr[data-registration]')
    expect(rows).to_have_count(count)
    expect(rows.last).to_contain_text("Deltager")
