"""Sealed personal data: only the person's key opens it, for that person, unchanged."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.kernel.emails import normalise_email
from services.kernel.privacy import PrivacySettings, SealError, Vault, open_sealed, seal

KEY = bytes(range(32))
FIELDS = {"name": "Anne Jensen", "email": "anne.jensen@aarhus.dk", "job_title": "Koordinator"}


def test_sealed_fields_open_with_the_persons_key_unchanged() -> None:
    sealed = seal("person-1", KEY, FIELDS)
    assert sealed.startswith("v1.")
    assert "Anne" not in sealed
    assert "aarhus" not in sealed
    assert open_sealed("person-1", KEY, sealed) == FIELDS


def test_the_same_fields_seal_differently_each_time() -> None:
    assert seal("person-1", KEY, FIELDS) != seal("person-1", KEY, FIELDS)


def test_a_tampered_seal_does_not_open() -> None:
    sealed = seal("person-1", KEY, FIELDS)
    body = bytearray(base64.urlsafe_b64decode(sealed[3:] + "=" * (-len(sealed[3:]) % 4)))
    body[-1] ^= 1
    tampered = "v1." + base64.urlsafe_b64encode(bytes(body)).decode().rstrip("=")
    with pytest.raises(SealError):
        open_sealed("person-1", KEY, tampered)


def test_a_seal_cannot_be_passed_off_as_another_persons() -> None:
    sealed = seal("person-1", KEY, FIELDS)
    with pytest.raises(SealError):
        open_sealed("person-2", KEY, sealed)


def test_another_key_does_not_open_it() -> None:
    with pytest.raises(SealError):
        open_sealed("person-1", os.urandom(32), seal("person-1", KEY, FIELDS))


@pytest.mark.parametrize("text", ["", "v1.", "v2.abc", "garbage", "v1.!!!!"])
def test_an_unknown_format_is_refused(text: str) -> None:
    with pytest.raises(SealError):
        open_sealed("person-1", KEY, text)


@given(
    person_id=st.text(min_size=1, max_size=60),
    fields=st.dictionaries(
        st.text(max_size=20), st.one_of(st.none(), st.text(max_size=200)), max_size=6
    ),
)
def test_any_fields_survive_the_round_trip(person_id: str, fields: dict[str, str | None]) -> None:
    assert open_sealed(person_id, KEY, seal(person_id, KEY, fields)) == fields


def test_one_email_one_digest_whatever_its_case_and_blanks() -> None:
    vault = Vault(PrivacySettings())
    assert vault.digest(" Anne.Jensen@Aarhus.DK ") == vault.digest("anne.jensen@aarhus.dk")
    assert vault.digest("anne.jensen@aarhus.dk") != vault.digest("bo.holm@odense.dk")
    assert normalise_email(" A@B.dk ") == "a@b.dk"


def test_the_digest_depends_on_the_pepper() -> None:
    other = PrivacySettings(pepper=base64.b64encode(b"another pepper, 32 bytes long!!!").decode())
    assert Vault(other).digest("a@b.dk") != Vault(PrivacySettings()).digest("a@b.dk")
