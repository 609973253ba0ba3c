"""The yearly lists of housing areas (1 December): reading an import, and deciding on it.

Every 1 December the housing ministry publishes the lists of social-housing areas (the
"ghettoliste" and, from 2021, the forebyggelsesområder). They are why a municipality should
be in KNUB, so the membership service keeps them. Rules (ours, from
../shared/area-lists/README.md):

- A list is identified by its date, which is always 1 December; one import is one date.
- Every row names a known category, an area and a known municipality (official code; the
  name, when given, must be that municipality's). Forebyggelsesområder exist from the list
  of 1 December 2021 on.
- A row may not repeat another (same category, area and municipality).
- All or nothing: an import with any bad row changes nothing, and the refusal names every
  bad row and column.
- Importing the same list again changes nothing (row order and blanks do not matter). A
  different list for the same date replaces the earlier one as a new event with the next
  revision; the earlier stays in the stream's history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from services.membership.domain.errors import AreaListInvalidError, RowProblem
from services.membership.domain.municipalities import municipality

COLUMNS = ("list_date", "category", "area", "municipality_code", "municipality")
"""The columns of an import, as in ../shared/area-lists/2021-12-01.csv."""

MAX_AREA_LENGTH = 200
FIRST_PREVENTION_LIST = date(2021, 12, 1)
"""Forebyggelsesområder were listed for the first time on 1 December 2021."""


class Category(StrEnum):
    UDSAT = "udsat"
    PARALLELSAMFUND = "parallelsamfund"
    OMDANNELSESOMRAADE = "omdannelsesomraade"
    FOREBYGGELSESOMRAADE = "forebyggelsesomraade"


CATEGORY_NAMES: Mapping[Category, str] = {
    Category.UDSAT: "udsat boligområde",
    Category.PARALLELSAMFUND: "parallelsamfund",
    Category.OMDANNELSESOMRAADE: "omdannelsesområde",
    Category.FOREBYGGELSESOMRAADE: "forebyggelsesområde",
}
"""The Danish names, as the lists themselves use them."""


def area_list_stream_id(list_date: date) -> str:
    return f"area-list-{list_date.isoformat()}"


@dataclass(frozen=True, order=True)
class ListedArea:
    """One area on one list (an area on several lists is several of these)."""

    category: Category
    area: str
    municipality_code: str
    municipality_name: str


@dataclass(frozen=True)
class AreaList:
    """The current list of a date: its latest revision."""

    list_date: date
    revision: int
    partial: bool
    rows: tuple[ListedArea, ...]
    imported_at: datetime

    @property
    def municipality_codes(self) -> list[str]:
        return sorted({r.municipality_code for r in self.rows})


@dataclass(frozen=True)
class RawRow:
    """A row as the import file gave it: its line in the file and its cells by column."""

    line: int
    cells: Mapping[str, str]


@dataclass(frozen=True)
class ImportAreaList:
    list_date: date
    rows: tuple[ListedArea, ...]
    partial: bool
    at: datetime


@dataclass(frozen=True)
class AreaListPublished:
    list_date: date
    revision: int
    partial: bool
    rows: tuple[ListedArea, ...]
    occurred_at: datetime


def canonical(rows: Sequence[ListedArea]) -> tuple[ListedArea, ...]:
    """The rows in one order, so two imports of the same list compare equal."""
    return tuple(sorted(rows))


def read_rows(rows: Sequence[RawRow]) -> tuple[date, tuple[ListedArea, ...]]:
    """The list date and the rows of an import; :class:`AreaListInvalidError` naming every
    bad row and column otherwise (nothing of a refused import is kept)."""
    problems: list[RowProblem] = []
    dates: dict[date, int] = {}
    seen: dict[tuple[Category, str, str], int] = {}
    found: list[ListedArea] = []
    for raw in rows:
        before = len(problems)
        cell = {c: (raw.cells.get(c) or "").strip() for c in COLUMNS}
        list_date = _list_date(raw.line, cell["list_date"], problems)
        if list_date is not None:
            dates.setdefault(list_date, raw.line)
        category = _category(raw.line, cell["category"], list_date, problems)
        area = _area(raw.line, cell["area"], problems)
        name = _municipality(raw.line, cell["municipality_code"], cell["municipality"], problems)
        if len(problems) > before or category is None or name is None:
            continue
        key = (category, area.casefold(), cell["municipality_code"])
        if key in seen:
            problems.append(
                RowProblem(
                    raw.line,
                    "area",
                    area,
                    f"rækken gentager række {seen[key]}",
                    f"the row repeats row {seen[key]}",
                )
            )
            continue
        seen[key] = raw.line
        found.append(ListedArea(category, area, cell["municipality_code"], name))
    if len(dates) > 1:
        first, *others = sorted(dates, key=lambda d: dates[d])
        for other in others:
            problems.append(
                RowProblem(
                    dates[other],
                    "list_date",
                    other.isoformat(),
                    f"en import er én liste: række {dates[first]} har {first.isoformat()}",
                    f"one import is one list: row {dates[first]} has {first.isoformat()}",
                )
            )
    if not rows:
        problems.append(
            RowProblem(1, "list_date", "", "filen har ingen rækker", "the file has no rows")
        )
    if problems:
        raise AreaListInvalidError(sorted(problems, key=lambda p: (p.row, COLUMNS.index(p.column))))
    [list_date] = dates
    return list_date, canonical(found)


def _list_date(line: int, value: str, problems: list[RowProblem]) -> date | None:
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        problems.append(
            RowProblem(
                line,
                "list_date",
                value,
                "datoen skal skrives ÅÅÅÅ-MM-DD, fx 2021-12-01",
                "the date must be written YYYY-MM-DD, e.g. 2021-12-01",
            )
        )
        return None
    if (parsed.month, parsed.day) != (12, 1):
        problems.append(
            RowProblem(
                line,
                "list_date",
                value,
                f"listerne offentliggøres 1. december; {value} er ikke 1. december",
                f"the lists are published on 1 December; {value} is not 1 December",
            )
        )
        return None
    return parsed


def _category(
    line: int, value: str, list_date: date | None, problems: list[RowProblem]
) -> Category | None:
    try:
        category = Category(value.lower())
    except ValueError:
        known = ", ".join(c.value for c in Category)
        problems.append(
            RowProblem(
                line,
                "category",
                value,
                f"ukendt kategori '{value}'; kendte kategorier: {known}",
                f"unknown category '{value}'; known categories: {known}",
            )
        )
        return None
    if (
        category is Category.FOREBYGGELSESOMRAADE
        and list_date is not None
        and list_date < FIRST_PREVENTION_LIST
    ):
        problems.append(
            RowProblem(
                line,
                "category",
                value,
                "forebyggelsesområder findes først på listen fra 1. december 2021",
                "forebyggelsesområder are on the lists from 1 December 2021 on",
            )
        )
        return None
    return category


def _area(line: int, value: str, problems: list[RowProblem]) -> str:
    if not value:
        problems.append(
            RowProblem(line, "area", value, "områdets navn mangler", "the area's name is missing")
        )
    elif len(value) > MAX_AREA_LENGTH:
        problems.append(
            RowProblem(
                line,
                "area",
                value[:40] + "…",
                f"områdets navn er længere end {MAX_AREA_LENGTH} tegn",
                f"the area's name is longer than {MAX_AREA_LENGTH} characters",
            )
        )
    return value


def _municipality(line: int, code: str, name: str, problems: list[RowProblem]) -> str | None:
    found = municipality(code)
    if found is None:
        problems.append(
            RowProblem(
                line,
                "municipality_code",
                code,
                f"kommunekoden '{code}' findes ikke; brug den officielle tre-cifrede kode, "
                "fx 101 for København",
                f"there is no municipality with code '{code}'; use the official three-digit "
                "code, e.g. 101 for København",
            )
        )
        return None
    if name and not _same_municipality(name, found.name):
        problems.append(
            RowProblem(
                line,
                "municipality",
                name,
                f"kommunekode {code} er {found.name}, men rækken siger {name}",
                f"municipality code {code} is {found.name}, but the row says {name}",
            )
        )
        return None
    return found.name


def _same_municipality(given: str, official: str) -> bool:
    """``given`` names ``official``, in any case, with or without "(s) Kommune"."""
    plain = given.strip().casefold().removesuffix(" kommune")
    return plain in (official.casefold(), official.casefold() + "s")


def decide_import(state: AreaList | None, command: ImportAreaList) -> list[AreaListPublished]:
    """The same list again: nothing. Otherwise the list, whole, as the next revision."""
    rows = canonical(command.rows)
    if state is not None and (state.rows, state.partial) == (rows, command.partial):
        return []
    return [
        AreaListPublished(
            list_date=command.list_date,
            revision=1 if state is None else state.revision + 1,
            partial=command.partial,
            rows=rows,
            occurred_at=command.at,
        )
    ]


def evolve(state: AreaList | None, event: AreaListPublished) -> AreaList:
    """The list after ``event``: a later revision replaces an earlier one."""
    if state is not None and state.revision >= event.revision:
        return state
    return AreaList(
        list_date=event.list_date,
        revision=event.revision,
        partial=event.partial,
        rows=canonical(event.rows),
        imported_at=event.occurred_at,
    )
