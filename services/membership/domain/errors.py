"""What the domain refuses, and why: each refusal carries the words a person needs to act,
Danish first and English beside it, and a stable ``code`` (the HTTP edge gives the status)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any


class MembershipDomainError(Exception):
    """Base of every refusal of the membership domain."""

    code = "membership-error"
    title = "Afvist"

    def __init__(self, detail_da: str, detail_en: str) -> None:
        super().__init__(detail_en)
        self.detail_da = detail_da
        self.detail_en = detail_en


class InvalidEanError(MembershipDomainError):
    """The EAN location number is not 13 digits with a valid GS1 check digit."""

    code = "invalid-ean"
    title = "Ugyldigt EAN-nummer"

    def __init__(self, ean: str) -> None:
        super().__init__(
            f"EAN-nummeret '{ean}' er ikke gyldigt: det skal være 13 cifre, og det sidste "
            "ciffer skal passe som kontrolciffer. Tjek nummeret i kommunens økonomisystem "
            "eller på eannummer.dk.",
            f"The EAN number '{ean}' is not valid: it must be 13 digits, the last one a "
            "matching check digit. Check the number in the municipality's finance system.",
        )
        self.ean = ean


class YearInPastError(MembershipDomainError):
    """The membership year has already ended."""

    code = "year-in-past"
    title = "Året er slut"

    def __init__(self, year: int, current_year: int) -> None:
        super().__init__(
            f"Man kan ikke tilmelde sig for {year}, som er slut. Vælg {current_year} "
            "eller et senere år.",
            f"You cannot sign up for {year}, which has ended. Choose {current_year} "
            "or a later year.",
        )
        self.year = year
        self.current_year = current_year


class YearTooFarAheadError(MembershipDomainError):
    """The membership year is further ahead than one can sign up for."""

    code = "year-too-far-ahead"
    title = "Året er for langt ude i fremtiden"

    def __init__(self, year: int, latest_year: int) -> None:
        super().__init__(
            f"Tilmelding for {year} er ikke åben endnu. Man kan tilmelde sig til og med "
            f"{latest_year}.",
            f"Sign-up for {year} is not open yet. You can sign up up to {latest_year}.",
        )
        self.year = year
        self.latest_year = latest_year


class MembershipCancelledError(MembershipDomainError):
    """The membership is cancelled; it cannot be joined again, renewed or changed."""

    code = "membership-cancelled"
    title = "Medlemskabet er opsagt"

    def __init__(self, membership_id: str) -> None:
        super().__init__(
            f"Medlemskabet {membership_id} er opsagt og kan ikke ændres eller fornyes "
            "her. Kontakt KL, hvis kommunen vil genoptage det.",
            f"The membership {membership_id} is cancelled and cannot be changed or "
            "renewed here. Contact KL if the municipality wants to resume it.",
        )
        self.membership_id = membership_id


class AlreadyCancelledError(MembershipCancelledError):
    """Cancelling a membership that is already cancelled."""

    code = "already-cancelled"
    title = "Medlemskabet er allerede opsagt"

    def __init__(self, membership_id: str) -> None:
        MembershipDomainError.__init__(
            self,
            f"Medlemskabet {membership_id} er allerede opsagt. Der er ikke mere at gøre.",
            f"The membership {membership_id} is already cancelled. Nothing more to do.",
        )
        self.membership_id = membership_id


class NetworkExistsError(MembershipDomainError):
    """A network with this slug exists with other details."""

    code = "network-exists"
    title = "Netværket findes allerede"

    def __init__(self, slug: str) -> None:
        super().__init__(
            f"Der findes allerede et netværk med id'et '{slug}' med andre oplysninger. "
            "Vælg et andet id.",
            f"A network '{slug}' already exists with other details. Choose another id.",
        )
        self.slug = slug


class MembershipNotFoundError(MembershipDomainError, LookupError):
    """A command on a membership that does not exist."""

    code = "unknown-membership"
    title = "Ukendt medlemskab"

    def __init__(self, membership_id: str | None) -> None:
        super().__init__(
            f"Medlemskabet {membership_id or ''} findes ikke. Tjek id'et, eller tilmeld "
            "kommunen med POST /networks/{slug}/memberships.",
            f"The membership {membership_id or ''} does not exist. Check the id, or sign "
            "the municipality up with POST /networks/{slug}/memberships.",
        )
        self.membership_id = membership_id


class UnknownNetworkError(MembershipDomainError, LookupError):
    """No network has this slug."""

    code = "unknown-network"
    title = "Ukendt netværk"

    def __init__(self, slug: str) -> None:
        super().__init__(
            f"Netværket '{slug}' findes ikke. Se listen over netværk på GET /networks.",
            f"There is no network '{slug}'. See the list of networks at GET /networks.",
        )
        self.slug = slug


class UnknownMunicipalityError(MembershipDomainError, LookupError):
    """No municipality has this code."""

    code = "unknown-municipality"
    title = "Ukendt kommunekode"

    def __init__(self, code: str) -> None:
        super().__init__(
            f"Kommunekoden '{code}' findes ikke. Brug kommunens officielle tre-cifrede "
            "kode, fx 101 for København; alle 98 koder står på GET /municipalities.",
            f"There is no municipality with code '{code}'. Use the official three-digit "
            "code, e.g. 101 for København; all 98 codes are at GET /municipalities.",
        )
        self.municipality_code = code


# --- The outreach: the yearly area lists and the invitations --------------------------
# Nothing of an import or an invitation request is written when one of these is raised.


class OutreachError(MembershipDomainError):
    """Base of the outreach's refusals (a conflict with the state unless its class says
    otherwise; the statuses are the HTTP edge's ``REFUSALS``)."""

    code = "outreach-refused"

    @property
    def extra(self) -> dict[str, Any]:
        """More members of the problem answer (e.g. the rows that were refused)."""
        return {}


@dataclass(frozen=True)
class RowProblem:
    """A bad cell of an imported list: the row's line in the file (the header is line 1),
    its column, the value found (public data: areas and municipalities), and why."""

    row: int
    column: str
    value: str
    message_da: str
    message_en: str


class AreaListInvalidError(OutreachError):
    """An import with bad rows: nothing of it was imported."""

    code = "invalid-area-list"
    title = "Listen blev ikke importeret"

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = list(problems)
        shown = self.problems[:10]
        more = len(self.problems) - len(shown)
        da = "; ".join(f"række {p.row}, kolonne {p.column}: {p.message_da}" for p in shown)
        en = "; ".join(f"row {p.row}, column {p.column}: {p.message_en}" for p in shown)
        super().__init__(
            f"Ret {da}{f' (og {more} mere)' if more else ''}. Intet er importeret.",
            f"Fix {en}{f' (and {more} more)' if more else ''}. Nothing was imported.",
        )

    @property
    def extra(self) -> dict[str, Any]:
        return {
            "errors": [
                {
                    "row": p.row,
                    "column": p.column,
                    "value": p.value,
                    "message": p.message_da,
                    "message_en": p.message_en,
                }
                for p in self.problems
            ]
        }


class UnknownAreaListError(OutreachError):
    code = "unknown-area-list"
    title = "Listen findes ikke"

    def __init__(self, what: date | int) -> None:
        da = f"listen fra {what.isoformat()}" if isinstance(what, date) else f"listen for {what}"
        en = f"the list of {what.isoformat()}" if isinstance(what, date) else f"the list of {what}"
        super().__init__(
            f"Der er ikke importeret {da}. Importér den først "
            "(python -m services.operator areas import FIL).",
            f"{en.capitalize()} has not been imported. Import it first "
            "(python -m services.operator areas import FILE).",
        )


@dataclass(frozen=True)
class ItemProblem:
    """A bad entry of an invitation request: its index (from 0), its field, and why."""

    index: int
    field: str
    message_da: str
    message_en: str


class InvitationsInvalidError(OutreachError):
    """An invitation request with bad entries: nobody was invited."""

    code = "invalid-invitations"
    title = "Ingen blev inviteret"

    def __init__(self, problems: Sequence[ItemProblem]) -> None:
        self.problems = list(problems)
        da = "; ".join(f"nr. {p.index + 1} ({p.field}): {p.message_da}" for p in self.problems)
        en = "; ".join(f"no. {p.index + 1} ({p.field}): {p.message_en}" for p in self.problems)
        super().__init__(f"Ret {da}. Ingen er inviteret.", f"Fix {en}. Nobody was invited.")

    @property
    def extra(self) -> dict[str, Any]:
        return {
            "errors": [
                {
                    "field": f"invitations.{p.index}.{p.field}",
                    "message": p.message_da,
                    "message_en": p.message_en,
                }
                for p in self.problems
            ]
        }


class OfferMeetingError(OutreachError):
    """The meeting named for the offer cannot carry it."""

    code = "invalid-offer-meeting"
    title = "Mødet kan ikke bruges til tilbuddet"
