"""EAN (GLN) location numbers: 13 digits with a GS1 mod-10 check digit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.membership.domain.model import ean_is_valid


@pytest.mark.parametrize("ean", ["5798000000001", "5790000000005", "4006381333931"])
def test_numbers_with_the_right_check_digit_are_valid(ean: str) -> None:
    assert ean_is_valid(ean)


@pytest.mark.parametrize(
    "ean",
    ["5798000000002", "579800000000", "57980000000011", "57980000000a1", "", "５798000000001"],
)
def test_wrong_check_digit_length_or_characters_are_invalid(ean: str) -> None:
    assert not ean_is_valid(ean)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_exactly_one_check_digit_completes_any_twelve_digits(body: str) -> None:
    assert sum(ean_is_valid(body + str(d)) for d in range(10)) == 1


@given(
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.integers(0, 11),
    st.integers(1, 9),
)
def test_changing_one_digit_is_detected(body: str, position: int, shift: int) -> None:
    valid = next(body + str(d) for d in range(10) if ean_is_valid(body + str(d)))
    changed = valid[:position] + str((int(valid[position]) + shift) % 10) + valid[position + 1 :]
    assert not ean_is_valid(changed)
