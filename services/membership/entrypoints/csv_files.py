"""CSV at the HTTP edge: an imported list in, the statistics out.

In: the columns of ../shared/area-lists/2021-12-01.csv, UTF-8 (a byte order mark, as Excel
writes one, is fine), separated by commas or, as Danish Excel saves, by semicolons. Rows
are named by their line in the file: the header is line 1, the first row line 2.

Out: what Danish Excel opens with a double click: UTF-8 with a byte order mark, semicolons
between the cells, decimal commas; one table per file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Literal

from services.membership.domain.area_lists import COLUMNS, RawRow
from services.membership.domain.errors import AreaListInvalidError, RowProblem
from services.membership.domain.statistics import Statistics

MAX_ROWS = 5000
Table = Literal["members", "meetings", "coverage"]


def read_area_list(body: bytes) -> list[RawRow]:
    """The rows of an uploaded list; :class:`AreaListInvalidError` for a file that is not
    a CSV of these columns (nothing is imported then)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AreaListInvalidError(
            [
                RowProblem(
                    1,
                    COLUMNS[0],
                    "",
                    "filen er ikke UTF-8; gem den som 'CSV UTF-8' i Excel",
                    "the file is not UTF-8; save it as 'CSV UTF-8' in Excel",
                )
            ]
        ) from None
    if "\x00" in text:
        raise _bad_header("filen indeholder NUL-tegn", "the file holds NUL characters")
    lines = text.splitlines()
    header = lines[0] if lines else ""
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    try:
        fields = [(f or "").strip().lower() for f in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in fields]
        if missing:
            raise _bad_header(
                f"kolonnerne {', '.join(missing)} mangler; overskriften skal være "
                f"{','.join(COLUMNS)}",
                f"the columns {', '.join(missing)} are missing; the header must be "
                f"{','.join(COLUMNS)}",
                column=missing[0],
            )
        rows: list[RawRow] = []
        for record in reader:
            if len(rows) >= MAX_ROWS:
                raise _bad_header(
                    f"filen har mere end {MAX_ROWS} rækker", f"the file has over {MAX_ROWS} rows"
                )
            cells = {
                (k or "").strip().lower(): v if isinstance(v, str) else ""
                for k, v in record.items()
            }
            if not any(cells.get(c, "").strip() for c in COLUMNS):
                continue  # an empty line, as spreadsheets leave at the end
            rows.append(RawRow(reader.line_num, cells))
    except csv.Error as exc:
        raise _bad_header(
            f"filen kan ikke læses som CSV ({exc})", f"the file cannot be read as CSV ({exc})"
        ) from None
    return rows


def _bad_header(da: str, en: str, column: str = COLUMNS[0]) -> AreaListInvalidError:
    return AreaListInvalidError([RowProblem(1, column, "", da, en)])


def _number(value: float | int | None, decimals: int = 1) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.{decimals}f}".replace(".", ",")


def _percent(share: float | None) -> float | None:
    return None if share is None else 100 * share


def _cells(*values: str | int | float | None) -> list[str]:
    return [v if isinstance(v, str) else _number(v) for v in values]


def statistics_table(stats: Statistics, table: Table) -> str:
    """One table of the statistics as CSV text (with its byte order mark)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    rows: Sequence[Sequence[str]]
    if table == "members":
        header = ["år", "medlemmer", "nye", "fornyede", "via tilbuddet", "opsagte"]
        rows = [
            _cells(m.year, m.members, m.new, m.renewed, m.through_offer, m.cancelled)
            for m in stats.members
        ]
    elif table == "meetings":
        header = [
            "møde", "titel", "år", "start", "pladser", "bekræftede", "venteliste", "rykket op",
            "afmeldte", "på tilbuddet", "mødt", "udeblevet", "udeblivelse (%)",
        ]  # fmt: skip
        rows = [
            _cells(
                m.meeting_id,
                m.title,
                m.year,
                m.starts_at.isoformat(),
                m.seats,
                m.confirmed,
                m.waiting,
                m.promoted,
                m.cancelled,
                m.with_offer,
                m.attended,
                m.no_shows,
                _percent(m.no_show_rate),
            )
            for m in stats.meetings
        ]
    else:
        header = ["liste", "år", "kategori", "kommuner på listen", "medlemmer", "andel (%)"]
        rows = [
            _cells(
                c.list_date,
                c.year,
                c.category,
                c.listed,
                c.members,
                _percent(c.share),
            )
            for c in stats.coverage
        ]
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
