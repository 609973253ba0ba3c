"""Event types, their major versions and what a reader does with unknown ones."""

from __future__ import annotations

import re
from typing import ClassVar

import pytest

from contracts.base import (
    EventPayload,
    EventRegistry,
    FutureSchemaError,
    PayloadInvalidError,
    UnknownEventTypeError,
)


class Greeted(EventPayload):
    event_name: ClassVar[str] = "dk.kl.test.greeted"
    topic: ClassVar[str] = "test"
    who: str


def registry() -> EventRegistry:
    r = EventRegistry()
    r.register(Greeted)
    return r


def test_type_name_carries_the_major_version() -> None:
    assert Greeted.type_name() == "dk.kl.test.greeted.v1"


def test_readers_tolerate_extra_fields() -> None:
    payload = registry().parse("dk.kl.test.greeted.v1", {"who": "KL", "added_later": 1})
    assert payload == Greeted(who="KL")


def test_a_higher_major_version_is_a_schema_from_the_future() -> None:
    with pytest.raises(FutureSchemaError, match="up to v1"):
        registry().model_for("dk.kl.test.greeted.v2")


def test_an_unknown_type_is_named_in_the_error() -> None:
    with pytest.raises(UnknownEventTypeError, match=re.escape("dk.kl.test.waved.v1")):
        registry().model_for("dk.kl.test.waved.v1")


def test_an_invalid_payload_is_rejected_with_its_type() -> None:
    with pytest.raises(PayloadInvalidError, match="greeted"):
        registry().parse("dk.kl.test.greeted.v1", {"whom": "KL"})


def test_registering_two_models_under_one_type_is_refused() -> None:
    class Greeted2(Greeted):
        pass

    r = registry()
    with pytest.raises(ValueError, match="twice"):
        r.register(Greeted2)
