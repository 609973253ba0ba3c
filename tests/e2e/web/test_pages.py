"""The web front end in a real browser, over the real services.

Each test reads as what a person does on a page and what they must see. The processes start
once for the module (``stack``); each test schedules its own meeting.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

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

MEMBER_2021 = "751"  # Aarhus
OTHER_MEMBER_2021 = "101"  # København
MEMBER_2022_ONLY = "851"  # Aalborg: joined for next year, so the offer applies
NON_MEMBER = "147"  # Frederiksberg


@pytest.fixture(scope="module", autouse=True)
def members(stack: Stack) -> None:
    stack.join(MEMBER_2021, 2021)
    stack.join(OTHER_MEMBER_2021, 2021)
    stack.join(MEMBER_2022_ONLY, 2022)


def open_meeting(page: Page, stack: Stack, meeting_id: str) -> None:
    page.goto(f"{stack.web_url}/moeder/{meeting_id}")
    expect(page.locator("#meeting")).to_be_visible()


def fill_registration(
    page: Page, *, name: str, email: str, job: str = "Områdeleder", municipality: str
) -> None:
    page.get_by_label("Navn", exact=True).fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Stilling").fill(job)
    page.get_by_label("Kommune").fill(municipality)
    page.get_by_role("button", name="Tilmeld").click()


def test_a_member_registering_on_the_meeting_page_sees_the_seat_at_once(
    page: Page, stack: Stack
) -> None:
    meeting_id = stack.schedule(seats=10)
    open_meeting(page, stack, meeting_id)
    expect(page.get_by_role("heading", level=1)).to_have_text("3. netværksmøde 2021")
    expect(page.locator("#meeting-date")).to_have_text("onsdag den 8. december 2021")
    expect(page.locator("#meeting-place")).to_contain_text("KL-huset")
    expect(page.locator("#program li")).to_have_count(4)
    expect(page.locator("#free-seats")).to_have_text("10")

    fill_registration(
        page, name="Anne Winther", email="anne.winther@aarhus.example.dk", municipality="751"
    )

    result = page.locator("#register-result")
    expect(result).to_contain_text("Du har fået en plads")
    expect(result).to_contain_text("som medlem af netværket")
    expect(result).to_contain_text("Pris: gratis")
    expect(page.locator("#free-seats")).to_have_text("9")


def test_free_seats_fall_on_another_open_page_without_a_reload(
    browser: Browser, stack: Stack
) -> None:
    meeting_id = stack.schedule(seats=5)
    watcher_context = browser.new_context(viewport=DESKTOP, locale="da-DK")
    registrant_context = browser.new_context(viewport=DESKTOP, locale="da-DK")
    signed_in(registrant_context, stack, "coordinator", code="101")
    try:
        watcher = watcher_context.new_page()
        open_meeting(watcher, stack, meeting_id)
        expect(watcher.locator("#free-seats")).to_have_text("5")
        # A mark on the page's window survives only if the page is never reloaded.
        watcher.evaluate("window.__notReloaded = true")

        registrant = registrant_context.new_page()
        open_meeting(registrant, stack, meeting_id)
        fill_registration(
            registrant, name="Peter Skov", email="peter.skov@kk.example.dk", municipality="101"
        )
        expect(registrant.locator("#register-result")).to_contain_text("Du har fået en plads")

        expect(watcher.locator("#free-seats")).to_have_text("4")
        assert watcher.evaluate("window.__notReloaded === true")
    finally:
        watcher_context.close()
        registrant_context.close()


def test_a_cancelled_seat_goes_to_the_first_on_the_waiting_list(
    browser: Browser, page: Page, stack: Stack
) -> None:
    meeting_id = stack.schedule(seats=2)
    first = stack.register(meeting_id, "Lone Bach", MEMBER_2021)
    stack.register(meeting_id, "Karim Nassar", OTHER_MEMBER_2021)

    open_meeting(page, stack, meeting_id)
    expect(page.locator("#free-seats")).to_have_text("0")
    fill_registration(
        page, name="Sara Lund", email="sara.lund@aarhus.example.dk", municipality="Aarhus"
    )
    expect(page.locator("#register-result")).to_contain_text("Du er nr. 1 på ventelisten")
    expect(page.locator("#waiting-count")).to_have_text("1")

    dashboard = page.context.new_page()
    dashboard.goto(f"{stack.web_url}/drift")
    row = dashboard.locator(f'tr[data-meeting="{meeting_id}"]')
    expect(row.locator(".waiting")).to_have_text("1")
    row.get_by_role("button", name=re.compile("^Deltagere")).click()
    participants = dashboard.locator(f'[data-participants="{meeting_id}"]')
    sara = participants.locator("tr", has_text="Sara Lund")
    expect(sara.locator(".status")).to_have_text("Venteliste nr. 1")

    participants.locator(f'tr[data-registration="{first["registration_id"]}"]').get_by_role(
        "button", name=re.compile("^Afmeld")
    ).click()

    expect(dashboard.locator("#action-status")).to_contain_text("Rykket op fra ventelisten")
    expect(sara.locator(".status")).to_have_text("Bekræftet")
    expect(row.locator(".waiting")).to_have_text("0")
    # The meeting page, never reloaded, follows: nobody waits any more, and no seat is free.
    expect(page.locator("#waiting-count")).to_have_text("ingen")
    expect(page.locator("#free-seats")).to_have_text("0")


def test_form_errors_are_shown_next_to_their_fields_in_danish(page: Page, stack: Stack) -> None:
    meeting_id = stack.schedule(seats=10)
    open_meeting(page, stack, meeting_id)
    fill_registration(page, name="", email="ikke-en-adresse", municipality="999")

    expect(page.locator("#name-error")).to_have_text("Skriv dit navn.")
    expect(page.locator("#email-error")).to_have_text(
        "Skriv en gyldig e-mailadresse, fx anne.jensen@aarhus.dk."
    )
    expect(page.locator("#municipality_code-error")).to_contain_text("Ukendt kommune")
    expect(page.locator("#job_title-error")).to_be_hidden()
    for field in ("name", "email", "municipality_code"):
        expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
        expect(page.locator(f"#{field}")).to_have_accessible_description(
            re.compile(re.escape(page.locator(f"#{field}-error").inner_text()))
        )
    expect(page.locator(".error-summary")).to_contain_text("Ret disse 3 fejl")
    expect(page.locator("#free-seats")).to_have_text("10")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#register-form").screenshot(path=SCREENSHOTS / "moede-fejl-desktop.png")


def test_the_keyboard_alone_registers_and_focus_follows_the_answer(
    page: Page, stack: Stack
) -> None:
    meeting_id = stack.schedule(seats=10)
    open_meeting(page, stack, meeting_id)
    page.get_by_label("Navn", exact=True).focus()
    page.keyboard.press("Enter")  # Enter in a field submits the form: errors first
    expect(page.locator(".error-summary")).to_be_focused()
    page.locator(".error-summary a").first.press("Enter")
    expect(page.get_by_label("Navn", exact=True)).to_be_focused()
    for text in ("Lone Bach", "lone.bach@odense.example.dk", "Specialkonsulent", "751"):
        page.keyboard.type(text)
        page.keyboard.press("Tab")
    expect(page.get_by_label("Bemærkning (valgfri)")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Tilmeld")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#register-result")).to_be_focused()
    expect(page.locator("#register-result")).to_contain_text("Du har fået en plads")


def test_a_field_the_service_refuses_is_marked_next_to_that_field(page: Page, stack: Stack) -> None:
    meeting_id = stack.schedule(seats=10)
    open_meeting(page, stack, meeting_id)
    # Looks like an address to the page, but the service's e-mail check refuses it (422).
    fill_registration(page, name="Jens Kragh", email="jens..kragh@aarhus.dk", municipality="751")

    expect(page.locator("#email-error")).to_have_text(
        "Skriv en gyldig e-mailadresse, fx anne.jensen@aarhus.dk."
    )
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#register-result")).to_be_empty()


def test_a_non_member_is_told_why_and_how_to_join(page: Page, stack: Stack) -> None:
    meeting_id = stack.schedule(seats=10, offer=True)
    open_meeting(page, stack, meeting_id)
    fill_registration(
        page, name="Ida Holm", email="ida.holm@frederiksberg.example.dk", municipality="147"
    )

    result = page.locator("#register-result")
    expect(result).to_contain_text("Kommunen er ikke medlem af netværket")
    expect(result).to_contain_text("Melder kommunen sig ind for 2022, kan I deltage gratis")
    expect(result.get_by_role("link", name="kommunens side")).to_have_attribute(
        "href", "/kommuner/147"
    )


def test_next_years_member_registers_free_under_the_offer(page: Page, stack: Stack) -> None:
    meeting_id = stack.schedule(seats=10, offer=True)
    open_meeting(page, stack, meeting_id)
    expect(page.locator("#meeting-offer")).to_contain_text("melder sig ind i netværket for 2022")
    fill_registration(
        page, name="Birgitte Moe", email="birgitte.moe@aalborg.example.dk", municipality="851"
    )
    expect(page.locator("#register-result")).to_contain_text("på tilbuddet")


def test_municipality_page_shows_memberships_registrations_and_the_offer_until_it_joins(
    page: Page, stack: Stack
) -> None:
    meeting_id = stack.schedule(seats=30, offer=True, title="Årets sidste netværksmøde")
    page.goto(f"{stack.web_url}/kommuner/{NON_MEMBER}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Frederiksberg (147)")
    expect(page.locator("#memberships")).to_contain_text("ingen medlemskaber")
    offer = page.locator("#offer")
    expect(offer).to_contain_text("Tilbud: deltag gratis i Årets sidste netværksmøde")
    expect(offer).to_contain_text("for 2022 nu")
    link = offer.get_by_role("link", name=re.compile("Årets sidste netværksmøde"))
    expect(link).to_have_attribute("href", f"/moeder/{meeting_id}")

    expect(page.get_by_label("År")).to_have_value("2022")
    page.get_by_label("Kontaktperson", exact=True).fill("Ida Holm")
    page.get_by_label("Kontaktpersonens e-mail").fill("ida.holm@frederiksberg.example.dk")
    page.get_by_label("EAN-nummer til fakturaen").fill("5798000000002")
    page.get_by_role("button", name="Meld kommunen ind").click()
    expect(page.locator("#ean-error")).to_contain_text("kontrolciffer")

    page.get_by_label("EAN-nummer til fakturaen").fill("5798000000001")
    page.get_by_role("button", name="Meld kommunen ind").click()
    expect(page.locator("#join-result")).to_contain_text("Frederiksberg er meldt ind for 2022")
    expect(page.locator("#memberships")).to_contain_text("2022")
    expect(offer).to_contain_text("Kommunen er meldt ind i")
    expect(offer).to_contain_text("kan derfor deltage gratis i Årets sidste netværksmøde")

    registration = stack.register(meeting_id, "Ida Holm", NON_MEMBER)

    async def in_read_model() -> bool:
        rows = stack.registrations_of(NON_MEMBER)
        return any(r["registration_id"] == registration["registration_id"] for r in rows)

    run_async(wait_until(in_read_model, timeout=30, what="the registration in the read model"))
    page.reload()
    expect(page.locator("#registrations")).to_contain_text("Ida Holm")
    expect(page.locator("#registrations")).to_contain_text("Bekræftet")
    expect(page.locator("#memberships")).to_contain_text("Aktivt")


def test_a_municipalitys_page_shows_its_public_part_without_a_sign_in_and_asks_for_the_rest(
    anonymous_context: BrowserContext, browser: Browser, stack: Stack
) -> None:
    meeting_id = stack.schedule(seats=30, offer=True, title="Årets sidste møde for alle")
    page = anonymous_context.new_page()
    page.goto(f"{stack.web_url}/kommuner/{MEMBER_2022_ONLY}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Aalborg (851)")
    status = page.locator("#membership-status")
    expect(status.locator("tr", has_text="2021").locator(".tag")).to_have_text("Ikke medlem")
    expect(status.locator("tr", has_text="2022").locator(".tag")).to_have_text("Medlem")
    offer = page.locator("#offer")
    expect(offer).to_contain_text("Kommunen er meldt ind i")
    expect(offer).to_contain_text("kan derfor deltage gratis i Årets sidste møde for alle")
    upcoming = page.locator("#upcoming")
    expect(upcoming.get_by_role("link", name="Årets sidste møde for alle")).to_have_attribute(
        "href", f"/moeder/{meeting_id}"
    )
    expect(upcoming).to_contain_text("30 ledige pladser af 30")
    sign_in = page.locator("#sign-in")
    expect(sign_in.get_by_role("heading", level=2)).to_have_text("Resten kræver login")
    expect(sign_in).to_contain_text("Du er ikke logget ind.")
    expect(sign_in).to_contain_text("udviklings-login øverst på siden")
    expect(page.locator("#private")).to_be_hidden()
    expect(page.locator("#join-form")).to_be_hidden()
    # Nothing personal shows without a sign-in: no contact person, no EAN.
    text = page.locator("main").inner_text()
    assert f"kontakt{MEMBER_2022_ONLY}@" not in text
    assert "5798000000001" not in text

    # Signed in for another municipality: the public part, and why the rest is not shown.
    other = browser.new_context(viewport=DESKTOP, locale="da-DK")
    signed_in(other, stack, "coordinator", code=OTHER_MEMBER_2021)
    try:
        foreign = other.new_page()
        foreign.goto(f"{stack.web_url}/kommuner/{MEMBER_2022_ONLY}")
        expect(foreign.locator("#sign-in")).to_contain_text(
            "Du er logget ind, men ikke som Aalborgs koordinator eller som KL-medarbejder."
        )
        expect(foreign.locator("#membership-status")).to_contain_text("Medlem")
        expect(foreign.locator("#private")).to_be_hidden()
    finally:
        other.close()

    # The municipality's own coordinator signs in on the page and sees the rest.
    page.locator("header summary", has_text="Udviklings-login").click()
    page.get_by_label("Rolle").select_option("coordinator")
    page.get_by_label("Kode (tre cifre)").fill(MEMBER_2022_ONLY)
    page.get_by_role("button", name="Log ind (udvikling)").click()
    expect(page.locator("#memberships")).to_contain_text("Aktivt")
    expect(page.locator("#sign-in")).to_be_hidden()
    expect(page.get_by_role("button", name="Meld kommunen ind")).to_be_visible()


def test_dashboard_shows_deliveries_and_dead_letters(page: Page, stack: Stack) -> None:
    meeting_id = stack.schedule(seats=10)
    stack.register(meeting_id, "Mette Holm", MEMBER_2021)
    page.goto(f"{stack.web_url}/drift")
    page.get_by_label("Vis leveringer").select_option("")
    page.get_by_role("button", name="Vis", exact=True).click()
    # The confirmation is mailed by the notifications service; the dashboard refreshes itself.
    expect(page.locator("#deliveries")).to_contain_text("Tilmelding", timeout=60_000)
    expect(page.locator("#delivery-counts")).to_contain_text("Sendt")
    # Check-in before the meeting has begun: the service's reason is shown, nothing changes.
    row = page.locator(f'tr[data-meeting="{meeting_id}"]')
    row.get_by_role("button", name=re.compile("^Deltagere")).click()
    mette = page.locator(f'[data-participants="{meeting_id}"] tr', has_text="Mette Holm")
    mette.get_by_role("button", name=re.compile("^Mødt")).click()
    expect(page.locator("#action-status")).to_contain_text(
        "Fremmøde kan først registreres, når mødet er begyndt."
    )
    for service in ("membership", "events", "notifications"):
        expect(page.locator(f'#dead-letters [data-service="{service}"]')).to_contain_text(
            re.compile("Ingen døde beskeder|ikke tilgængelig|Fejl|Emne")
        )


PAGES = {
    "forside": "/",
    "moede": "/moeder/{meeting_id}",
    "kommune": f"/kommuner/{MEMBER_2022_ONLY}",
    "kommune-offentlig": f"/kommuner/{MEMBER_2022_ONLY}",
    "drift": "/drift",
}
READY = {
    "forside": "#meetings ul",
    "moede": "#meeting",
    "kommune": "#join-panel",
    "kommune-offentlig": "#sign-in",
    "drift": "#meetings table",
}
ANONYMOUS = {"kommune-offentlig"}
"""Pages checked as a visitor who has not signed in; the others as KL staff."""


@pytest.fixture(scope="module")
def showcase(stack: Stack) -> str:
    """A meeting with the offer and a few registrations, for the screenshots."""
    meeting_id = stack.schedule(seats=40, offer=True)
    for name, code in (("Anne Winther", "751"), ("Peter Skov", "101"), ("Karim Nassar", "851")):
        stack.register(meeting_id, name, code)
    return meeting_id


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_has_no_serious_accessibility_violations_on_desktop_and_phone(
    browser: Browser, stack: Stack, showcase: str, name: str, viewport: str
) -> None:
    size = DESKTOP if viewport == "desktop" else PHONE
    options: dict[str, Any] = {"viewport": size, "locale": "da-DK"}
    if viewport == "phone":
        options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
    context = browser.new_context(**options)
    if name not in ANONYMOUS:
        signed_in(context, stack)
    try:
        page = context.new_page()
        page.goto(stack.web_url + PAGES[name].format(meeting_id=showcase))
        expect(page.locator(READY[name]).first).to_be_visible(timeout=15_000)
        if name == "moede":
            expect(page.locator("#free-seats")).not_to_have_text("–")
        if name == "drift":
            row = page.locator(f'tr[data-meeting="{showcase}"]')
            row.get_by_role("button", name=re.compile("^Deltagere")).click()
            expect(page.locator(f'[data-participants="{showcase}"] table')).to_be_visible()
            expect(page.locator("#dead-letters [data-service]")).to_have_count(3)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{name}-{viewport}.png", full_page=True)

        assert serious_violations(page) == []
        # Nothing wider than the screen on a phone: no sideways scrolling of the page.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        context.close()


def test_a_stopped_events_service_gives_a_clear_danish_message_not_a_blank_page(
    page: Page, stack: Stack
) -> None:
    meeting_id = stack.schedule(seats=10)
    stack.events.stop()
    try:
        page.goto(f"{stack.web_url}/moeder/{meeting_id}")
        alert = page.locator("#page-error")
        expect(alert.get_by_role("heading", level=1)).to_have_text("Tjenesten svarer ikke")
        expect(alert).to_contain_text(
            "Møde- og tilmeldingstjenesten svarer ikke lige nu. Intet er gemt. Prøv igen om lidt."
        )
        expect(alert.get_by_role("button", name="Prøv igen")).to_be_visible()
        expect(page.locator("#page-loading")).to_be_hidden()
    finally:
        stack.events.start()
        stack.events.wait_ready(timeout=90)


@pytest.mark.parametrize("path", ["/moeder/%E0", "/kommuner/%E0"])
def test_a_malformed_address_gets_a_message_not_a_page_that_loads_forever(
    page: Page, stack: Stack, path: str
) -> None:
    page.goto(f"{stack.web_url}{path}")
    expect(page.locator("#page-error").get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator("#page-loading")).to_be_hidden()


def test_public_pages_need_no_sign_in_and_a_participant_signs_in_to_register_themselves(
    anonymous_context: BrowserContext, stack: Stack
) -> None:
    meeting_id = stack.schedule(seats=10)
    page = anonymous_context.new_page()
    open_meeting(page, stack, meeting_id)
    expect(page.locator("#free-seats")).to_have_text("10")
    fill_registration(
        page, name="Sara Lund", email="sara.lund@aarhus.example.dk", municipality=MEMBER_2021
    )
    expect(page.locator("#register-result")).to_contain_text("Tilmelding kræver login")
    # A municipality's page shows its public part, and asks to sign in for the rest.
    other = anonymous_context.new_page()
    other.goto(f"{stack.web_url}/kommuner/{MEMBER_2021}")
    expect(other.locator("#sign-in")).to_contain_text("Du er ikke logget ind")
    other.close()

    page.get_by_text("Udviklings-login").click()
    page.get_by_label("Rolle").select_option("participant")
    page.get_by_label("Kode (tre cifre)").fill(MEMBER_2021)
    page.get_by_label("Login-adresse").fill("sara.lund@aarhus.example.dk")
    page.get_by_role("button", name="Log ind (udvikling)").click()
    expect(page.locator(".devsignin-status")).to_contain_text("Logget ind som Deltager")

    fill_registration(
        page, name="Sara Lund", email="sara.lund@aarhus.example.dk", municipality=MEMBER_2021
    )
    expect(page.locator("#register-result")).to_contain_text("Du har fået en plads")
    # Another person's registration is refused for a participant.
    fill_registration(
        page, name="Bo Berg", email="bo.berg@aarhus.example.dk", municipality=MEMBER_2021
    )
    expect(page.locator("#register-result")).to_contain_text("Ingen adgang")
