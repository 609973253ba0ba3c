"""Text fields of requests refuse control characters; every other character is text."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from services.kernel.http import CleanText


class Named(BaseModel):
    name: CleanText


@pytest.mark.parametrize(
    "text",
    [
        "Søren Ærø",
        "line one\nline two\r\n\ttabbed",
        "<script>alert('x')</script>",
        "Robert'); DROP TABLE events;--",
        "😀 \u202eevil\u202c a\u200bb",
    ],
)
def test_ordinary_and_hostile_text_is_kept_as_it_is(text: str) -> None:
    assert Named(name=text).name == text


@pytest.mark.parametrize(
    "text", ["a\x00b", "bell\x07", "colour\x1b[31m", "del\x7f", "lone \ud800 surrogate"]
)
def test_control_characters_and_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="control characters"):
        Named(name=text)


def test_a_lone_surrogate_escaped_in_json_is_refused() -> None:
    with pytest.raises(ValidationError):
        Named.model_validate_json('{"name": "x\\ud800"}')
