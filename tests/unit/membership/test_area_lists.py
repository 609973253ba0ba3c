"""Importing the yearly lists of housing areas: what is refused, and the import's rules.

The rules hold for any list (hypothesis): importing the same list twice changes nothing; a
different list for the same date replaces it as the next revision and the earlier stays in
the stream; a list with bad rows is refused whole, naming exactly the bad rows, and nothing
of it is kept.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kernel.clock import ManualClock
from services.membership.domain.area_lists import (
    COLUMNS,
    Category,
    RawRow,
    read_rows,
)
from services.membership.domain.errors import AreaListInvalidError
from services.membership.domain.municipalities import MUNICIPALITIES
from services.membership.entrypoints.csv_files import read_area_list
from services.membership.service_layer.area_lists import ImportOutcome, import_area_list
from tests.unit.membership.outreach_fakes import FakeOutreachStreams

CSV_2021 = (
    Path(__file__).resolve().parents[3] / "services/operator/demo_data/area-list-2021-12-01.csv"
)
OUTREACH_DAY = datetime(2021, 12, 2, 10, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def raw(line: int, **cells: str) -> RawRow:
    base = {
        "list_date": "2021-12-01",
        "category": "udsat",
        "area": "Vollsmose",
        "municipality_code": "461",
        "municipality": "Odense",
    }
    return RawRow(line, {**base, **cells})


def problems(rows: list[RawRow]) -> list[tuple[int, str]]:
    with pytest.raises(AreaListInvalidError) as refused:
        read_rows(rows)
    return [(p.row, p.column) for p in refused.value.problems]


async def imported(
    streams: FakeOutreachStreams, rows: list[RawRow], partial: bool = False
) -> ImportOutcome:
    return await import_area_list(streams, ManualClock(OUTREACH_DAY), rows, partial=partial)


def test_the_confirmed_part_of_the_2021_lists_reads_as_39_rows_in_12_municipalities() -> None:
    list_date, rows = read_rows(read_area_list(CSV_2021.read_bytes()))
    assert list_date == date(2021, 12, 1)
    assert len(rows) == 39
    per = {c: sum(r.category is c for r in rows) for c in Category}
    assert per == {
        Category.PARALLELSAMFUND: 12,
        Category.OMDANNELSESOMRAADE: 10,
        Category.UDSAT: 14,
        Category.FOREBYGGELSESOMRAADE: 3,
    }
    assert len({r.municipality_code for r in rows}) == 12


def test_an_unknown_municipality_code_is_named_by_row_and_column() -> None:
    assert problems([raw(2), raw(3, municipality_code="999", municipality="")]) == [
        (3, "municipality_code")
    ]


def test_an_unknown_category_is_named_by_row_and_column() -> None:
    assert problems([raw(2, category="ghetto")]) == [(2, "category")]


def test_a_date_that_is_not_1_december_is_named_by_row_and_column() -> None:
    assert problems([raw(2, list_date="2021-11-30")]) == [(2, "list_date")]
    assert problems([raw(2, list_date="1. december 2021")]) == [(2, "list_date")]


def test_a_name_that_is_not_the_codes_municipality_is_refused() -> None:
    # A shifted code is the likely mistake: 159 is Gladsaxe, not Gentofte.
    assert problems([raw(2, municipality_code="159", municipality="Gentofte")]) == [
        (2, "municipality")
    ]
    _, rows = read_rows([raw(2, municipality="Odense Kommune"), raw(3, area="Bøgeparken")])
    assert {r.municipality_name for r in rows} == {"Odense"}
    _, rows = read_rows([raw(2, municipality_code="101", municipality="Københavns Kommune")])
    assert rows[0].municipality_name == "København"


def test_a_repeated_row_and_a_second_date_are_refused() -> None:
    assert problems([raw(2), raw(3, area="vollsmose ")]) == [(3, "area")]
    assert problems([raw(2), raw(3, list_date="2022-12-01", area="Agervang")]) == [(3, "list_date")]


def test_prevention_areas_are_on_the_lists_from_2021_on() -> None:
    assert problems([raw(2, list_date="2020-12-01", category="forebyggelsesomraade")]) == [
        (2, "category")
    ]


def test_every_bad_row_is_named_at_once() -> None:
    rows = [
        raw(2),
        raw(3, category="x"),
        raw(4, area="Bøgeparken"),
        raw(5, municipality_code="411"),
    ]
    assert problems(rows) == [(3, "category"), (5, "municipality_code")]


def test_the_csv_reader_takes_semicolons_a_byte_order_mark_and_blank_lines() -> None:
    body = (
        "\ufefflist_date;category;area;municipality_code;municipality\r\n"
        "2021-12-01;udsat;Vollsmose;461;Odense\r\n"
        ";;;;\r\n"
        "2021-12-01;forebyggelsesomraade;Værebro;159;Gladsaxe\r\n"
    ).encode()
    rows = read_area_list(body)
    assert [r.line for r in rows] == [2, 4]
    assert read_rows(rows)[1][0].area == "Værebro"


def test_a_file_that_is_not_the_lists_is_refused_at_row_1() -> None:
    with pytest.raises(AreaListInvalidError) as missing:
        read_area_list(b"dato,kategori\n2021-12-01,udsat\n")
    [problem] = missing.value.problems
    assert (problem.row, problem.column) == (1, "list_date")
    with pytest.raises(AreaListInvalidError) as latin:
        read_area_list(b"list_date,category,area,municipality_code,municipality\n" + b"\xe6")
    assert "UTF-8" in latin.value.detail_en


# --- The rules, for any list -------------------------------------------------------------

area_names = st.text(alphabet="abcdefghijkløæå -/", min_size=1, max_size=12).map(
    lambda s: s.strip() or "Parken"
)


@st.composite
def area_lists(draw: st.DrawFn, year: int | None = None) -> list[RawRow]:
    """A valid list: distinct (category, area, municipality) rows of one 1 December."""
    year = year if year is not None else draw(st.integers(2018, 2030))
    categories = [c for c in Category if year >= 2021 or c is not Category.FOREBYGGELSESOMRAADE]
    cells = draw(
        st.lists(
            st.tuples(st.sampled_from(categories), area_names, st.sampled_from(MUNICIPALITIES)),
            min_size=1,
            max_size=25,
            unique_by=lambda t: (t[0], t[1].casefold(), t[2].code),
        )
    )
    return [
        RawRow(
            n + 2,
            {
                "list_date": f"{year}-12-01",
                "category": category.value,
                "area": area,
                "municipality_code": m.code,
                "municipality": draw(st.sampled_from([m.name, "", f"{m.name} Kommune"])),
            },
        )
        for n, (category, area, m) in enumerate(cells)
    ]


def renumbered(rows: list[RawRow]) -> list[RawRow]:
    return [RawRow(n + 2, dict(r.cells)) for n, r in enumerate(rows)]


@settings(max_examples=60, deadline=None)
@given(rows=area_lists(), shuffle=st.randoms(use_true_random=False))
def test_importing_the_same_list_again_changes_nothing(rows: list[RawRow], shuffle: Any) -> None:
    streams = FakeOutreachStreams()
    first = run(imported(streams, rows))
    again = list(rows)
    shuffle.shuffle(again)
    second = run(imported(streams, renumbered(again)))

    assert first.changed is True
    assert second.changed is False
    assert second.area_list == first.area_list
    [stream] = streams.lists.values()
    assert len(stream) == 1


@settings(max_examples=60, deadline=None)
@given(first=area_lists(year=2021), second=area_lists(year=2021))
def test_a_different_list_for_the_date_replaces_it_and_history_is_kept(
    first: list[RawRow], second: list[RawRow]
) -> None:
    streams = FakeOutreachStreams()
    before = run(imported(streams, first))
    after = run(imported(streams, second))

    [stream] = streams.lists.values()
    if after.changed:
        assert after.area_list.revision == 2
        assert after.area_list.rows == read_rows(second)[1]
        assert [e.rows for e in stream] == [before.area_list.rows, after.area_list.rows]
    else:  # the same rows, drawn twice
        assert after.area_list.rows == before.area_list.rows
        assert len(stream) == 1


BAD = {
    "municipality_code": "999",
    "category": "hård ghetto",
    "list_date": "2021-11-01",
}


@settings(max_examples=60, deadline=None)
@given(
    previous=area_lists(year=2021),
    rows=area_lists(year=2021),
    bad=st.lists(st.sampled_from(sorted(BAD)), min_size=1, max_size=4),
    seed=st.integers(0, 10**6),
)
def test_a_list_with_bad_rows_is_refused_whole_naming_exactly_those(
    previous: list[RawRow], rows: list[RawRow], bad: list[str], seed: int
) -> None:
    streams = FakeOutreachStreams()
    kept = run(imported(streams, previous))
    spoiled = list(rows)
    rng = random.Random(seed)
    for column in bad:
        at = rng.randrange(len(spoiled) + 1)
        spoiled.insert(at, RawRow(0, {**raw(0).cells, column: BAD[column], "area": f"X{at}"}))
    spoiled = renumbered(spoiled)
    expected = sorted(
        (r.line, COLUMNS.index(c)) for r in spoiled for c, v in BAD.items() if r.cells[c] == v
    )

    with pytest.raises(AreaListInvalidError) as refused:
        run(imported(streams, spoiled))

    assert sorted((p.row, COLUMNS.index(p.column)) for p in refused.value.problems) == expected
    [stream] = streams.lists.values()
    assert len(stream) == 1, "nothing of the refused import is kept"
    assert run(streams.load_area_list(date(2021, 12, 1)))[0] == kept.area_list
