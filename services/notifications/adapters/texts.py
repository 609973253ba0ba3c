"""The Danish texts of every notification kind, as plain text and HTML.

Small functions rather than a template engine: each kind says what it needs in a few lines,
and the HTML is the same paragraphs, escaped.
"""

from __future__ import annotations

import html
from datetime import datetime

from services.notifications.adapters.invitation_texts import invitation_content
from services.notifications.domain.danish_time import danish_clock, danish_date, danish_period
from services.notifications.domain.model import Meeting, NotificationIntent, NotificationKind
from services.notifications.service_layer.ports import RenderedText

SIGNATURE = ("Med venlig hilsen", "KL, Kommunernes Landsforening")

_CANCELLED_BY = {
    "participant": "deltageren selv",
    "municipality": "kommunen",
    "operator": "KL",
}


def render(intent: NotificationIntent) -> RenderedText:
    """Subject, plain text and HTML of one notification, in Danish."""
    subject, paragraphs = _content(intent)
    greeting = (
        "Til netværkets arrangør"
        if intent.kind.value.startswith("organiser_")
        else f"Kære {intent.recipient.name}"
    )
    blocks = [greeting + ",", *paragraphs, "\n".join(SIGNATURE)]
    text = "\n\n".join(blocks) + "\n"
    body = "".join(f"<p>{html.escape(b).replace(chr(10), '<br>')}</p>\n" for b in blocks)
    page = (
        '<!DOCTYPE html>\n<html lang="da"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n<body>\n{body}</body></html>\n"
    )
    return RenderedText(subject=subject, text=text, html=page)


def _when_where(meeting: Meeting) -> str:
    return f"Tid: {danish_period(meeting.starts_at, meeting.ends_at)}\nSted: {meeting.location}"


def _program(meeting: Meeting) -> str:
    if not meeting.program:
        return "Programmet er ikke offentliggjort endnu."
    lines = [
        f"kl. {danish_clock(item.starts_at)} {item.title}"
        + (f" ({item.speaker})" if item.speaker else "")
        for item in meeting.program
    ]
    return "Program:\n" + "\n".join(lines)


def _kroner(amount: int) -> str:
    """1500 -> "1.500": Danish thousands separator."""
    return f"{amount:,}".replace(",", ".")


def _terms(f: dict[str, str | int | None], waiting: bool = False) -> list[str]:
    """What attending costs, and why: the basis and price the decision gave the registration
    (nothing when the event did not say, e.g. an intent queued before they were told)."""
    basis, price = f.get("basis"), f.get("price_dkk")
    if basis == "member":
        text = "Deltagelsen er gratis, fordi din kommune er medlem af netværket."
    elif basis == "next_year_offer":
        text = (
            "Deltagelsen er gratis: din kommune er meldt ind i netværket for næste år, "
            "og medlemmer for næste år deltager gratis i dette møde, så længe der er ledige "
            "pladser."
        )
    elif basis == "guest" and isinstance(price, int):
        text = "Din kommune er ikke medlem af netværket, så du deltager som gæst. " + (
            f"Prisen er {_kroner(price)} kr., som faktureres din kommune."
            if price
            else "Deltagelsen er gratis."
        )
    else:
        return []
    if waiting:
        text = "Får du en plads: " + text[0].lower() + text[1:]
    return [text]


def _content(intent: NotificationIntent) -> tuple[str, list[str]]:
    f = intent.facts
    kind = intent.kind
    if kind is NotificationKind.MEMBERSHIP_WELCOME:
        network, year = f.get("network_name"), f.get("year")
        verb = "har fornyet sit medlemskab af" if f.get("renewed") == "ja" else "er nu medlem af"
        return f"Velkommen i {network} {year}", [
            f"{f.get('municipality_name')} Kommune {verb} {network} for {year}. Tak for det.",
            "Som kontaktperson får du besked, når netværkets møder bliver lagt i kalenderen, "
            "og kollegerne i din kommune kan nu tilmelde sig møderne.",
        ]
    if kind is NotificationKind.MEMBERSHIP_INVITATION:
        return invitation_content(intent)
    meeting = intent.meeting
    assert meeting is not None, f"{kind} needs a meeting"
    title = meeting.title
    if kind is NotificationKind.REGISTRATION_CONFIRMED:
        return f"Tilmelding bekræftet: {title}", [
            f"Du er tilmeldt {title}.",
            _when_where(meeting),
            *_terms(f),
            "En kalenderinvitation er vedhæftet. Kan du alligevel ikke komme, så meld dig "
            "venligst fra, så pladsen kan gå videre til en på ventelisten.",
        ]
    if kind is NotificationKind.REGISTRATION_WAITLISTED:
        return f"Du er på ventelisten: {title}", [
            f"{title} er fuldt booket, så du er sat på ventelisten som nummer {f.get('position')}.",
            _when_where(meeting),
            "Bliver en plads ledig, går den automatisk til den første på ventelisten, "
            "og vi skriver til dig, hvis du får en plads.",
            *_terms(f, waiting=True),
        ]
    if kind is NotificationKind.REGISTRATION_PROMOTED:
        return f"Du har fået en plads: {title}", [
            f"Der er blevet en plads ledig til {title}, og du har fået den. Du er nu tilmeldt.",
            _when_where(meeting),
            "En kalenderinvitation er vedhæftet.",
        ]
    if kind is NotificationKind.REGISTRATION_CANCELLED:
        paragraphs = [f"Din tilmelding til {title} er afmeldt.", _when_where(meeting)]
        if f.get("had_seat") == "ja":
            paragraphs.append("Aftalen i din kalender er aflyst med den vedhæftede fil.")
        return f"Afmelding bekræftet: {title}", paragraphs
    if kind is NotificationKind.MEETING_RESCHEDULED:
        previous = str(f.get("previous_starts_at") or "")
        paragraphs = [
            f"{title} er flyttet.",
            "Ny tid og sted:\n" + _when_where(meeting),
        ]
        if previous:
            paragraphs.append(
                f"Før: {danish_date(datetime.fromisoformat(previous))} kl. "
                f"{danish_clock(datetime.fromisoformat(previous))}, {f.get('previous_location')}"
            )
        paragraphs.append(
            "Den opdaterede kalenderinvitation er vedhæftet."
            if intent.calendar
            else "Du står fortsat på ventelisten."
        )
        return f"Ændret tid eller sted: {title}", paragraphs
    if kind is NotificationKind.MEETING_PROGRAM_CHANGED:
        return f"Program for {title}", [
            f"Programmet for {title} er offentliggjort eller ændret.",
            _program(meeting),
            _when_where(meeting),
        ]
    if kind is NotificationKind.MEETING_CANCELLED:
        paragraphs = [
            f"{title} er desværre aflyst. Din tilmelding er dermed annulleret.",
            f"Begrundelse: {f.get('reason')}",
            _when_where(meeting),
        ]
        if intent.calendar:
            paragraphs.append("Aftalen i din kalender er aflyst med den vedhæftede fil.")
        return f"Aflyst: {title}", paragraphs
    if kind is NotificationKind.MEETING_REMINDER:
        return f"Påmindelse: {title} {danish_date(meeting.starts_at)}", [
            f"Vi glæder os til at se dig til {title}.",
            _when_where(meeting),
            _program(meeting),
        ]
    who = (
        f"{f.get('participant_name')} ({f.get('participant_email')}, "
        f"kommunekode {f.get('participant_municipality')})"
    )
    if kind is NotificationKind.ORGANISER_REGISTRATION_CANCELLED:
        by = _CANCELLED_BY.get(str(f.get("cancelled_by")), str(f.get("cancelled_by")))
        return f"Afmelding: {title}", [
            f"{who} er afmeldt {title}. Afmeldt af {by}. Havde plads: {f.get('had_seat')}.",
            _when_where(meeting),
        ]
    return f"Ventelisten er rykket: {title}", [
        f"{who} har fået en plads fra ventelisten til {title}.",
        _when_where(meeting),
    ]
