"""Why the outreach refuses a command: each error carries its own texts, Danish first.

``code`` is a stable slug (the problem type), ``title`` a short Danish summary; the details
say what to do. Nothing is written when one of these is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any


class OutreachError(Exception):
    """Base of the outreach's refusals."""

    code = "outreach-refused"
    title = "Afvist"

    def __init__(self, detail_da: str, detail_en: str) -> None:
        super().__init__(detail_en)
        self.detail_da = detail_da
        self.detail_en = detail_en

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
