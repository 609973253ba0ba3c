"""The e-mail a participant gets: Danish text, HTML, and an .ics any calendar reads."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Component

from services.notifications.adapters.calendar import calendar_object
from services.notifications.adapters.email import MailContent, compose, mail_bytes
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


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_what_a_mail_client_shows_danish_subject_names_text_html_and_the_invitation() -> None:
    event = RegistrationConfirmed(
        MEETING.meeting_id, "reg-1", ANNE, "751", basis="member", price_dkk=0
    )
    [intent] = decide(event, MEETING, [], POLICY)
    assert intent.calendar is not None
    text = render(intent)
    ics = calendar_object(intent.calendar, MEETING, ANNE, ORGANISER, STAMP)
    nid = uuid4()
    raw = mail_bytes(
        compose(
            MailContent(nid, ANNE.email, "Åse Ødegård", text.subject, text.text, text.html, ics,
                        "REQUEST"),
            sender="KL Netværk <noreply@netvaerk.kl.dk>",
            domain="netvaerk.kl.dk",
            now=STAMP,
        )
    )  # fmt: skip
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b""), "SMTP's line ends, CRLF only"
    assert raw.isascii(), "7-bit clean: any relay takes it"
    mail = parsed(raw)
    assert mail["Subject"] == "Tilmelding bekræftet: 3. netværksmøde 2021"
    assert mail["From"] == "KL Netværk <noreply@netvaerk.kl.dk>"
    assert mail["To"].addresses[0].display_name == "Åse Ødegård"
    assert mail["To"].addresses[0].addr_spec == ANNE.email
    assert mail["Message-ID"] == f"<{nid}@netvaerk.kl.dk>"
    assert mail["Date"].datetime == STAMP
    assert (mail["Content-Language"], mail["Auto-Submitted"]) == ("da", "auto-generated")
    assert mail.get_content_type() == "multipart/mixed"
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None
    assert html is not None
    # MIME's canonical line break is CRLF; a mail client shows the same lines.
    assert plain.get_content().replace("\r\n", "\n") == text.text
    assert html.get_content().replace("\r\n", "\n") == text.html
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_filename() == "invitation.ics"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_payload(decode=True) == ics


def test_a_mail_without_a_calendar_is_text_and_html_alternatives_only() -> None:
    content = MailContent(uuid4(), BO.email, None, "Velkommen", "tekst æøå", "<p>æøå</p>", None,
                          None)  # fmt: skip
    mail = parsed(
        mail_bytes(compose(content, sender="noreply@netvaerk.kl.dk", domain="d", now=STAMP))
    )
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["To"] == BO.email
    assert mail["Subject"] == "Velkommen"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    plain = mail.get_body(("plain",))
    assert plain is not None
    assert plain.get_content().rstrip() == "tekst æøå"


def test_a_calendar_cancel_is_attached_as_a_cancellation() -> None:
    action = CalendarAction("CANCEL", "reg-1@netvaerk.kl.dk", 1)
    ics = calendar_object(action, MEETING, ANNE, ORGANISER, STAMP)
    content = MailContent(uuid4(), ANNE.email, ANNE.name, "Afmeldt", "t", "<p>h</p>", ics,
                          "CANCEL")  # fmt: skip
    mail = parsed(mail_bytes(compose(content, sender="noreply@kl.dk", domain="d", now=STAMP)))
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "cancellation.ics"
    assert attachment.get_param("method") == "CANCEL"


def transition_years(tz: Component) -> set[int]:
    """The years of the time zone's onsets (DTSTART and RDATE of its observances)."""
    return {int(y) for y in re.findall(rb"(?:DTSTART|RDATE)[:;,\w]*?(\d{4})\d{4}T", tz.to_ical())}


def test_the_time_zone_covers_the_meetings_years_only_as_icalendar_itself_writes_it() -> None:
    action = CalendarAction("REQUEST", "reg-1@netvaerk.kl.dk", 0)
    ics = calendar_object(action, MEETING, ANNE, ORGANISER, STAMP)
    cal = Calendar.from_ical(ics)
    [tz] = cal.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Europe/Copenhagen"
    assert transition_years(tz) == {2021}
    # The same bytes as icalendar's own add_missing_timezones() for those years.
    reference = Calendar.from_ical(ics)
    reference.subcomponents = [c for c in reference.subcomponents if c.name != "VTIMEZONE"]
    reference.add_missing_timezones(first_date=date(2021, 1, 1), last_date=date(2022, 1, 1))
    assert reference.to_ical() == ics
    # A meeting over new year carries both years; a later one its own.
    new_year = replace(MEETING, starts_at=datetime(2021, 12, 31, 20, tzinfo=UTC),
                       ends_at=datetime(2022, 1, 1, 2, tzinfo=UTC))  # fmt: skip
    [tz] = Calendar.from_ical(calendar_object(action, new_year, ANNE, ORGANISER, STAMP)).walk(
        "VTIMEZONE"
    )
    assert transition_years(tz) == {2021, 2022}
    summer = replace(MEETING, starts_at=datetime(2030, 6, 5, 7, tzinfo=UTC),
                     ends_at=datetime(2030, 6, 5, 12, tzinfo=UTC))  # fmt: skip
    event = Calendar.from_ical(calendar_object(action, summer, ANNE, ORGANISER, STAMP)).walk(
        "VEVENT"
    )[0]
    assert event.decoded("DTSTART") == summer.starts_at
    assert event.decoded("DTSTART").astimezone(ZoneInfo("Europe/Copenhagen")).hour == 9


def test_smtp_5xx_is_permanent_and_4xx_is_worth_another_try() -> None:
    assert isinstance(classify(smtp_reply(550, "no such user")), PermanentDeliveryError)
    assert isinstance(classify(smtp_reply(451, "4.3.0 try later")), TemporaryDeliveryError)
    assert isinstance(classify(smtp_reply(None, "TimeoutError")), TemporaryDeliveryError)


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    retry = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(minutes=3), max_attempts=5)
    assert [retry.delay(n).total_seconds() for n in range(1, 6)] == [30, 60, 120, 180, 180]
