"""The e-mail a participant gets: Danish text, HTML, and an .ics any calendar reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from services.notifications.adapters.calendar import calendar_object
from services.notifications.adapters.email import MailContent, compose
from services.notifications.adapters.smtp import classify
from services.notifications.adapters.smtp_reply import smtp_reply
from services.notifications.adapters.texts import render
from services.notifications.domain.decisions import decide
from services.notifications.domain.events import (
    RegistrationConfirmed,
    RegistrationPromoted,
    RegistrationWaitlisted,
)
from services.notifications.domain.model import CalendarAction
from services.notifications.service_layer.delivery import RetryPolicy
from services.notifications.service_layer.ports import (
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from tests.unit.notifications.test_decisions import ANNE, BO, MEETING, ORGANISER, POLICY, WAITING

STAMP = datetime(2021, 11, 22, 9, 0, tzinfo=UTC)


def test_a_promotion_mail_says_du_har_faaet_en_plads_with_the_danish_time() -> None:
    event = RegistrationPromoted(MEETING.meeting_id, "reg-2", BO, "461")
    participant, organiser = decide(event, MEETING, [WAITING], POLICY)
    text = render(participant)
    assert text.subject == "Du har fået en plads: 3. netværksmøde 2021"
    assert "Kære Bo Holm" in text.text
    assert "onsdag den 8. december 2021 kl. 09.30-15.30" in text.text
    assert "KL-huset, Weidekampsgade 10, 2300 København S" in text.text
    assert '<html lang="da">' in text.html
    assert "Kære Bo Holm" in text.html
    assert render(organiser).subject == "Ventelisten er rykket: 3. netværksmøde 2021"


def test_html_escapes_what_people_typed() -> None:
    event = RegistrationWaitlisted(
        MEETING.meeting_id,
        "reg-9",
        ANNE.__class__("<b>Eve</b>", "eve@aarhus.dk"),
        "751",
        2,
        basis="member",
        price_dkk=0,
    )
    [intent] = decide(event, MEETING, [], POLICY)
    rendered = render(intent)
    assert "&lt;b&gt;Eve&lt;/b&gt;" in rendered.html
    assert "<b>Eve" not in rendered.html
    assert "nummer 2" in rendered.text


@pytest.mark.parametrize(
    ("basis", "price", "says"),
    [
        ("member", 0, "Deltagelsen er gratis, fordi din kommune er medlem af netværket."),
        ("next_year_offer", 0, "meldt ind i netværket for næste år"),
        ("guest", 1500, "Prisen er 1.500 kr., som faktureres din kommune."),
        ("guest", 0, "du deltager som gæst. Deltagelsen er gratis."),
    ],
)
def test_the_confirmation_and_the_waiting_list_mail_say_what_attending_costs(
    basis: str, price: int, says: str
) -> None:
    confirmed = RegistrationConfirmed(
        MEETING.meeting_id,
        "reg-1",
        ANNE,
        "751",
        basis=basis,
        price_dkk=price,  # type: ignore[arg-type]
    )
    [intent] = decide(confirmed, MEETING, [], POLICY)
    assert says in render(intent).text
    waiting = RegistrationWaitlisted(
        MEETING.meeting_id,
        "reg-2",
        BO,
        "461",
        4,
        basis=basis,
        price_dkk=price,  # type: ignore[arg-type]
    )
    [intent] = decide(waiting, MEETING, [], POLICY)
    text = render(intent).text
    assert "Får du en plads: " in text
    assert says.lower() in text.lower()


def test_the_offer_is_free_while_seats_last_in_the_words_of_the_offer() -> None:
    event = RegistrationConfirmed(
        MEETING.meeting_id, "reg-1", ANNE, "751", basis="next_year_offer", price_dkk=0
    )
    [intent] = decide(event, MEETING, [], POLICY)
    assert "Deltagelsen er gratis" in render(intent).text
    assert "så længe der er ledige pladser" in render(intent).text


@pytest.mark.parametrize(("method", "status"), [("REQUEST", "CONFIRMED"), ("CANCEL", "CANCELLED")])
def test_the_calendar_object_has_uid_sequence_time_place_and_method(
    method: str, status: str
) -> None:
    action = CalendarAction(method, "reg-1@netvaerk.kl.dk", 2)  # type: ignore[arg-type]
    ics = calendar_object(action, MEETING, ANNE, ORGANISER, STAMP)
    cal = Calendar.from_ical(ics)
    assert str(cal["METHOD"]) == method
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == "reg-1@netvaerk.kl.dk"
    assert int(event["SEQUENCE"]) == 2
    assert str(event["STATUS"]) == status
    start = event.decoded("DTSTART")
    assert start == MEETING.starts_at
    assert start.tzinfo is not None
    assert "Copenhagen" in str(start.tzinfo)
    assert start.astimezone(ZoneInfo("Europe/Copenhagen")).hour == 9
    assert event.decoded("DTEND") == MEETING.ends_at
    assert str(event["LOCATION"]) == "KL-huset, Weidekampsgade 10, 2300 København S"
    assert str(event["SUMMARY"]) == "3. netværksmøde 2021"
    assert cal.walk("VTIMEZONE"), "the time zone travels with the invitation"


def test_the_mail_carries_text_html_and_the_ics_as_text_calendar_with_its_method() -> None:
    ics = calendar_object(
        CalendarAction("REQUEST", "reg-1@netvaerk.kl.dk", 0), MEETING, ANNE, ORGANISER, STAMP
    )
    nid = uuid4()
    msg = compose(
        MailContent(nid, ANNE.email, ANNE.name, "Emne", "tekst æøå", "<p>html</p>", ics, "REQUEST"),
        sender="KL <noreply@netvaerk.kl.dk>",
        domain="netvaerk.kl.dk",
        now=STAMP,
    )
    parsed = message_from_bytes(bytes(msg), policy=policy.default)
    assert parsed["Message-ID"] == f"<{nid}@netvaerk.kl.dk>"
    types = [part.get_content_type() for part in parsed.walk()]
    assert {"text/plain", "text/html", "text/calendar"} <= set(types)
    [cal_part] = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert cal_part.get_param("method") == "REQUEST"
    assert Calendar.from_ical(cal_part.get_payload(decode=True))["METHOD"] == "REQUEST"


def test_smtp_5xx_is_permanent_and_4xx_is_worth_another_try() -> None:
    assert isinstance(classify(smtp_reply(550, "no such user")), PermanentDeliveryError)
    assert isinstance(classify(smtp_reply(451, "4.3.0 try later")), TemporaryDeliveryError)
    assert isinstance(classify(smtp_reply(None, "TimeoutError")), TemporaryDeliveryError)


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    retry = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(minutes=3), max_attempts=5)
    assert [retry.delay(n).total_seconds() for n in range(1, 6)] == [30, 60, 120, 180, 180]
