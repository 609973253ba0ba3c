"""The reference list of Denmark's municipalities."""

from __future__ import annotations

from collections import Counter

import pytest

from services.membership.domain.municipalities import MUNICIPALITIES, Region, municipality


def test_there_are_exactly_98_municipalities_with_unique_codes_and_names() -> None:
    assert len(MUNICIPALITIES) == 98
    assert len({m.code for m in MUNICIPALITIES}) == 98
    assert len({m.name for m in MUNICIPALITIES}) == 98


def test_codes_are_three_digits() -> None:
    assert all(len(m.code) == 3 and m.code.isdigit() for m in MUNICIPALITIES)


@pytest.mark.parametrize(
    ("code", "name", "region"),
    [
        ("101", "København", Region.HOVEDSTADEN),
        ("147", "Frederiksberg", Region.HOVEDSTADEN),
        ("400", "Bornholm", Region.HOVEDSTADEN),
        ("751", "Aarhus", Region.MIDTJYLLAND),
        ("851", "Aalborg", Region.NORDJYLLAND),
        ("461", "Odense", Region.SYDDANMARK),
        ("825", "Læsø", Region.NORDJYLLAND),
        ("265", "Roskilde", Region.SJAELLAND),
        ("615", "Horsens", Region.MIDTJYLLAND),
        ("630", "Vejle", Region.SYDDANMARK),
    ],
)
def test_known_municipalities_have_their_official_code_and_region(
    code: str, name: str, region: Region
) -> None:
    found = municipality(code)
    assert found is not None
    assert (found.name, found.region) == (name, region)


def test_christianso_is_not_a_municipality() -> None:
    assert municipality("411") is None


def test_each_region_has_its_number_of_municipalities() -> None:
    counts = Counter(m.region for m in MUNICIPALITIES)
    assert counts == {
        Region.HOVEDSTADEN: 29,
        Region.SJAELLAND: 17,
        Region.SYDDANMARK: 22,
        Region.MIDTJYLLAND: 19,
        Region.NORDJYLLAND: 11,
    }
