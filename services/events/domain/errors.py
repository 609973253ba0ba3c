"""Why the meeting aggregate refuses a command: a Danish reason first, English beside it."""

from __future__ import annotations

from typing import Any


class MeetingError(Exception):
    """A refused command. ``code`` is a stable slug; nothing is written when one is raised."""

    code = "meeting-error"
    title = "Afvist"

    def __init__(self, detail_da: str, detail_en: str) -> None:
        super().__init__(detail_en)
        self.detail_da = detail_da
        self.detail_en = detail_en

    @property
    def extra(self) -> dict[str, Any]:
        """Members of the answer beside the texts (none by default)."""
        return {}


class MeetingNotFoundError(MeetingError):
    code = "meeting-not-found"
    title = "Mødet findes ikke"

    def __init__(self, meeting_id: str) -> None:
        super().__init__(
            f"Der findes intet møde med id {meeting_id}.", f"There is no meeting {meeting_id}."
        )


class MeetingAlreadyExistsError(MeetingError):
    code = "meeting-exists"
    title = "Mødet findes allerede"

    def __init__(self, meeting_id: str) -> None:
        super().__init__(
            f"Mødet {meeting_id} er allerede planlagt.", f"Meeting {meeting_id} already exists."
        )


class InvalidMeetingError(MeetingError):
    code = "meeting-invalid"
    title = "Ugyldige mødeoplysninger"


class MeetingCancelledError(MeetingError):
    code = "meeting-cancelled"
    title = "Mødet er aflyst"

    def __init__(self) -> None:
        super().__init__(
            "Mødet er aflyst, så det kan ikke ændres, og man kan ikke tilmelde sig.",
            "The meeting is cancelled: it cannot be changed or registered for.",
        )


class RegistrationClosedError(MeetingError):
    code = "registration-closed"
    title = "Tilmeldingsfristen er overskredet"

    def __init__(self, deadline: str) -> None:
        super().__init__(
            f"Tilmeldingsfristen udløb {deadline}. Kontakt KL, hvis du stadig vil deltage.",
            f"The registration deadline passed at {deadline}.",
        )


class DuplicateRegistrationError(MeetingError):
    """The person is registered already: ``registration_id`` is theirs, of the
    municipality ``municipality_code``. :meth:`without_ids` is the refusal for a caller who
    may not learn another municipality's registration."""

    code = "already-registered"
    title = "Allerede tilmeldt"

    def __init__(self, registration_id: str | None, municipality_code: str | None = None) -> None:
        if registration_id is None:
            super().__init__(
                "Denne e-mailadresse er allerede tilmeldt mødet. Afmeld den først, hvis "
                "noget skal ændres; kontakt den, der tilmeldte, eller KL.",
                "This e-mail is already registered for the meeting. Cancel that "
                "registration first if something must change; ask whoever registered, or KL.",
            )
        else:
            super().__init__(
                "Denne e-mailadresse er allerede tilmeldt mødet "
                f"(tilmelding {registration_id}). Afmeld den først, hvis noget skal ændres.",
                f"This e-mail is already registered for the meeting ({registration_id}).",
            )
        self.registration_id = registration_id
        self.municipality_code = municipality_code

    @property
    def extra(self) -> dict[str, Any]:
        return {"registration_id": self.registration_id} if self.registration_id else {}

    def without_ids(self) -> DuplicateRegistrationError:
        return DuplicateRegistrationError(None)


class MunicipalityCapReachedError(MeetingError):
    code = "municipality-cap-reached"
    title = "Kommunens pladser er brugt"

    def __init__(self, municipality_code: str, cap: int) -> None:
        super().__init__(
            f"Kommune {municipality_code} har allerede {cap} tilmeldte (inkl. venteliste), "
            f"og mødet tillader højst {cap} deltagere pr. kommune.",
            f"Municipality {municipality_code} already has {cap} registrations (including the"
            f" waiting list); the meeting allows at most {cap} per municipality.",
        )


class NotAMemberError(MeetingError):
    """Neither a membership that admits, nor a guest price: how to join is part of the answer."""

    code = "not-a-member"
    title = "Kommunen er ikke medlem af netværket"

    def __init__(self, network_slug: str, year: int, municipality_code: str, offer: bool) -> None:
        offer_da = (
            f" Melder kommunen sig ind for {year + 1}, kan I deltage gratis, så længe der er"
            " ledige pladser."
            if offer
            else ""
        )
        offer_en = (
            f" Joining for {year + 1} lets you attend free while seats last." if offer else ""
        )
        super().__init__(
            f"Kommune {municipality_code} er ikke medlem af netværket for {year}, og mødet er"
            f" kun for medlemmer. Meld kommunen ind i netværket for at deltage.{offer_da}",
            f"Municipality {municipality_code} is not a member of the network for {year} and"
            f" the meeting is for members only. Join the network to attend.{offer_en}",
        )
        self.network_slug = network_slug
        self.year = year
        self.municipality_code = municipality_code
        self.offer = offer


class SeatsBelowTakenError(MeetingError):
    code = "seats-below-taken"
    title = "For få pladser"

    def __init__(self, seats: int, taken: int) -> None:
        super().__init__(
            f"Antallet af pladser kan ikke sættes til {seats}, for {taken} er allerede besat."
            " Afmeld deltagere først.",
            f"Seats cannot be set to {seats}: {taken} are taken. Cancel registrations first.",
        )


class RegistrationNotFoundError(MeetingError):
    code = "registration-not-found"
    title = "Tilmeldingen findes ikke"

    def __init__(self, registration_id: str) -> None:
        super().__init__(
            f"Mødet har ingen tilmelding {registration_id}.",
            f"The meeting has no registration {registration_id}.",
        )


class RegistrationAlreadyCancelledError(MeetingError):
    code = "registration-cancelled"
    title = "Tilmeldingen er allerede afmeldt"

    def __init__(self, registration_id: str) -> None:
        super().__init__(
            f"Tilmeldingen {registration_id} er allerede afmeldt.",
            f"Registration {registration_id} is already cancelled.",
        )


class MeetingAlreadyStartedError(MeetingError):
    code = "meeting-started"
    title = "Mødet er begyndt"

    def __init__(self) -> None:
        super().__init__(
            "Mødet er begyndt; tilmeldinger kan ikke længere afmeldes.",
            "The meeting has started; registrations can no longer be cancelled.",
        )


class MeetingNotHeldYetError(MeetingError):
    code = "meeting-not-held"
    title = "Mødet er ikke afholdt endnu"

    def __init__(self) -> None:
        super().__init__(
            "Fremmøde kan først registreres, når mødet er begyndt.",
            "Attendance can be recorded only once the meeting has started.",
        )


class NoSeatError(MeetingError):
    code = "no-seat"
    title = "Ingen plads"

    def __init__(self, registration_id: str) -> None:
        super().__init__(
            f"Tilmeldingen {registration_id} har ingen plads på mødet.",
            f"Registration {registration_id} holds no seat at the meeting.",
        )
