"""The Danish text of an invitation to join a network (and of its reminders)."""

from __future__ import annotations

from datetime import date

from services.notifications.domain.danish_time import MONTHS, danish_datetime
from services.notifications.domain.model import NotificationIntent


def invitation_content(intent: NotificationIntent) -> tuple[str, list[str]]:
    """Subject and paragraphs: the listed areas, the invitation, the offer, the link."""
    f = intent.facts
    network, year, name = f.get("network_name"), f.get("year"), f.get("municipality_name")
    reminder = bool(f.get("reminder"))
    listed = date.fromisoformat(str(f.get("list_date")))
    subject = f"{'Påmindelse: invitation' if reminder else 'Invitation'} til {network} {year}"
    paragraphs = ["Dette er en påmindelse om KL's invitation."] if reminder else []
    paragraphs += [
        f"Listerne over almene boligområder fra {listed.day}. {MONTHS[listed.month - 1]} "
        f"{listed.year} omfatter disse områder i {name} Kommune:\n{f.get('areas')}",
        f"{network} er et netværk for kommunale medarbejdere og mellemledere, der arbejder "
        "med bosætning, fysiske omdannelser og boligsociale indsatser i udsatte boligområder. "
        "Formen er dialogbaseret, med erfaringsudveksling om områdeindsatser, regelfortolkning "
        f"og redskaber på tværs af kommunegrænser. KL inviterer derfor {name} Kommune til at "
        f"blive medlem af netværket for {year}.",
    ]
    meeting = intent.meeting
    if meeting is not None:
        seats = f.get("seats_left")
        free = ""  # not known (a meeting scheduled before this service counted seats)
        if isinstance(seats, int):
            free = (
                f" Der er {seats} ledige pladser lige nu."
                if seats > 0
                else " Mødet er fuldt lige nu; nye tilmeldinger kommer på venteliste."
            )
        paragraphs += [
            f"Tilbud: Melder kommunen sig ind for {year} nu, kan kommunens medarbejdere deltage "
            f"gratis i {meeting.title} {danish_datetime(meeting.starts_at)} i "
            f"{meeting.location}, så længe der er ledige pladser.{free}",
            f"Program og tilmelding til mødet: {f.get('meeting_url')}",
        ]
    paragraphs.append(f"Meld kommunen ind her: {f.get('join_url')}")
    return subject, paragraphs
