"""An invitation to join becomes one Danish mail to the address the operator gave."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts import outreach as wo
from services.kernel.clock import ManualClock
from services.notifications.adapters.messages import DanishMessages
from services.notifications.adapters.texts import render
from services.notifications.adapters.translation import invitation_issued
from services.notifications.domain.decisions import Policy, UnknownMeetingError
from services.notifications.domain.invitations import InvitationIssued, decide_invitation
from services.notifications.domain.model import Meeting, NotificationKind, Person
from services.notifications.service_layer.handlers import Notifier
from services.notifications.service_layer.invitations import InvitationSource, Inviter
from tests.unit.notifications.fakes import FakeStore, FakeVault, NoStores

NOW = datetime(2021, 12, 2, 9, 0, tzinfo=UTC)
START = datetime(2021, 12, 8, 8, 30, tzinfo=UTC)
MEETING = Meeting(
    "meeting-knub-2021-3",
    "3. netværksmøde 2021",
    "",
    START,
    START + timedelta(hours=6),
    "KL-huset",
    "Weidekampsgade 10, 2300 København S",
)
WEB = "https://netvaerk.kl.dk"
ODENSE_AREAS = (
    ("omdannelsesomraade", "Vollsmose"),
    ("parallelsamfund", "Vollsmose"),
    ("udsat", "Vollsmose"),
)


def issued(reminder: int = 0, meeting_id: str | None = MEETING.meeting_id) -> InvitationIssued:
    return InvitationIssued(
        invitation_id="invitation-knub-2022-461",
        network_slug="knub",
        year=2022,
        list_date=date(2021, 12, 1),
        municipality_code="461",
        municipality_name="Odense",
        areas=ODENSE_AREAS,
        meeting_id=meeting_id,
        contact=Person("kontaktperson i Odense Kommune", "boligsocial@odense.example.dk", "p-1"),
        reminder=reminder,
    )


def text_of(event: InvitationIssued, meeting: Meeting | None, seats: int | None) -> Any:
    [intent] = decide_invitation(
        event,
        network_name="Kommunernes Netværk for Udsatte Boligområder",
        meeting=meeting,
        seats_left=seats,
        web_url=WEB,
    )
    assert intent.kind is NotificationKind.MEMBERSHIP_INVITATION
    assert intent.recipient.email == "boligsocial@odense.example.dk"
    return render(intent)


def test_the_invitation_names_the_areas_the_offer_the_seats_and_the_join_page_in_danish() -> None:
    mail = text_of(issued(), MEETING, 12)

    assert mail.subject == "Invitation til Kommunernes Netværk for Udsatte Boligområder 2022"
    assert mail.text.startswith("Kære kontaktperson i Odense Kommune,")
    assert "Listerne over almene boligområder fra 1. december 2021" in mail.text
    assert "- Vollsmose (omdannelsesområde, parallelsamfund, udsat boligområde)" in mail.text
    assert "blive medlem af netværket for 2022" in mail.text
    assert "deltage gratis i 3. netværksmøde 2021 onsdag den 8. december 2021" in mail.text
    assert "så længe der er ledige pladser. Der er 12 ledige pladser lige nu." in mail.text
    assert f"Meld kommunen ind her: {WEB}/kommuner/461" in mail.text
    assert f"{WEB}/moeder/meeting-knub-2021-3" in mail.text
    assert "Vollsmose" in mail.html
    assert '<html lang="da">' in mail.html


def test_a_reminder_says_so_and_a_full_meeting_or_none_is_told_as_it_is() -> None:
    reminder = text_of(issued(reminder=1), MEETING, 0)
    assert reminder.subject.startswith("Påmindelse: invitation til")
    assert "Dette er en påmindelse om KL's invitation." in reminder.text
    assert "Mødet er fuldt lige nu; nye tilmeldinger kommer på venteliste." in reminder.text

    unknown_seats = text_of(issued(), MEETING, None)
    assert "ledige pladser lige nu" not in unknown_seats.text
    without_offer = text_of(issued(meeting_id=None), None, None)
    assert "Tilbud" not in without_offer.text
    assert f"{WEB}/kommuner/461" in without_offer.text


def test_an_erased_contact_gets_nothing() -> None:
    erased = issued()
    erased = InvitationIssued(**{**vars(erased), "contact": Person("[slettet]", "", "p-1")})
    assert (
        decide_invitation(erased, network_name=None, meeting=None, seats_left=None, web_url=WEB)
        == []
    )


def test_the_contact_without_a_name_is_greeted_as_the_municipalitys_contact() -> None:
    payload = wo.MunicipalityInvited(
        invitation_id="invitation-knub-2022-461",
        network_slug="knub",
        year=2022,
        list_date=date(2021, 12, 1),
        municipality_code="461",
        municipality_name="Odense",
        areas=[wo.InvitedArea(category="udsat", area="Vollsmose")],
        meeting_id=None,
        contact_person_id="p-1",
        contact_sealed="v1.x",
        occurred_at=NOW,
    )
    assert invitation_issued(payload, {"name": "", "email": "a@b.dk"}).contact.name == (
        "kontaktperson i Odense Kommune"
    )
    assert invitation_issued(payload, {"name": "Sara", "email": "a@b.dk"}).contact.name == "Sara"
    assert invitation_issued(payload, None).contact.email == ""


class FakeSeats:
    def __init__(self) -> None:
        self.seats: dict[str, int] = {}
        self.taken: dict[str, int] = {}

    async def save_seats(self, changes: Sequence[tuple[str, int]]) -> None:
        self.seats.update(changes)

    async def seats_left(self, meeting_ids: Collection[str]) -> dict[str, int]:
        return {m: self.seats[m] - self.taken.get(m, 0) for m in meeting_ids if m in self.seats}


def inviter(vault: FakeVault) -> Inviter:
    policy = Policy(organiser=Person("KL", "netvaerk@kl.dk"))
    notifier = Notifier(policy, ManualClock(NOW), vault, NoStores(), DanishMessages())
    return Inviter(notifier, WEB)


def source(vault: FakeVault, event_id: str, reminder: int = 0) -> InvitationSource:
    person = vault.person("boligsocial@odense.example.dk")
    sealed = vault.seal(person.person_id, {"name": "", "email": "boligsocial@odense.example.dk"})
    event = issued(reminder)

    def translate(opened: Any) -> InvitationIssued:
        contact = Person("", "") if opened is None else Person("Sara", opened["email"])
        return InvitationIssued(**{**vars(event), "contact": contact})

    return InvitationSource(event_id, (person.person_id, sealed), translate)


def test_the_inviter_queues_one_mail_per_invitation_with_the_seats_left() -> None:
    vault, seats, store = FakeVault(), FakeSeats(), FakeStore()
    store.meetings_by_id[MEETING.meeting_id] = MEETING
    seats.taken[MEETING.meeting_id] = 68
    invite = inviter(vault)

    queued = asyncio.run(
        invite.apply(
            store,
            seats,
            [(MEETING.meeting_id, 80)],
            [source(vault, "ev-1"), source(vault, "ev-2", reminder=1)],
        )
    )
    again = asyncio.run(invite.apply(store, seats, [], [source(vault, "ev-1")]))

    assert (queued, again) == (2, 0), "a redelivered invitation queues nothing new"
    subjects = sorted(d.subject for d in store.deliveries.values())
    assert subjects[0].startswith("Invitation til")
    assert subjects[1].startswith("Påmindelse")
    assert all("Der er 12 ledige pladser" in d.body_text for d in store.deliveries.values())
    assert {d.kind for d in store.deliveries.values()} == {"membership_invitation"}


def test_an_invitation_naming_a_meeting_never_scheduled_here_is_refused() -> None:
    vault = FakeVault()
    with pytest.raises(UnknownMeetingError):
        asyncio.run(inviter(vault).apply(FakeStore(), FakeSeats(), [], [source(vault, "e")]))
