"""A meeting's own fields are defined once (``MeetingDetails``); every other place that
names them is made of them or held against them here, so one that drifts fails a test."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel

from contracts import meetings as wire
from services.events.adapters.projections.migrations import MIGRATIONS
from services.events.adapters.translation import meeting_to_json
from services.events.domain import commands as c
from services.events.domain import events as e
from services.events.domain.model import DEFAULTS, DETAILS, TIMES, Meeting, MeetingDetails
from services.events.entrypoints import schemas as s
from tests.unit.events.builders import run, schedule

DETAIL_FIELDS = {f.name: f for f in dataclasses.fields(MeetingDetails)}


def _bare(annotation: Any) -> set[Any]:
    """The types an annotation allows, without Annotated's metadata: ``int | None`` ->
    {int, NoneType}; pydantic's ``LocalTime`` -> {datetime}."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _bare(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set().union(*(_bare(a) for a in typing.get_args(annotation)))
    return {annotation}


DETAIL_TYPES = {n: _bare(t) for n, t in typing.get_type_hints(MeetingDetails).items()}


def test_the_command_and_the_event_are_made_of_the_details() -> None:
    for cls in (c.ScheduleMeeting, e.MeetingScheduled):
        assert issubclass(cls, MeetingDetails), cls.__name__


def test_the_meetings_state_starts_with_the_details_as_they_are_defined() -> None:
    state = {f.name: f for f in dataclasses.fields(Meeting)}
    hints = typing.get_type_hints(Meeting)
    for name, detail in DETAIL_FIELDS.items():
        assert name in state, f"Meeting lacks {name}"
        assert _bare(hints[name]) == DETAIL_TYPES[name], name
        assert state[name].default == detail.default, name
    assert list(state)[1 : len(DETAILS) + 1] == list(DETAILS), "same order, after the id"


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        (s.ScheduleMeetingRequest, {"slug"}),
        (s.MeetingResponse, None),
        (wire.MeetingScheduled, {"meeting_id", "occurred_at"}),
    ],
    ids=["http request", "http answer", "wire contract"],
)
def test_the_http_models_and_the_contract_name_every_detail_with_its_type(
    model: type[BaseModel], extra: set[str] | None
) -> None:
    model_fields = model.model_fields
    for name in DETAILS:
        assert name in model_fields, f"{model.__name__} lacks {name}"
        assert _bare(model_fields[name].annotation) == DETAIL_TYPES[name], (
            f"{model.__name__}.{name}"
        )
        required = model_fields[name].is_required()
        if model is s.MeetingResponse:
            continue  # an answer always says every field
        if name in DEFAULTS:  # what the domain may leave out, a sender may leave out
            assert not required, f"{model.__name__}.{name} is required"
        elif model is wire.MeetingScheduled:  # and consumers may count on the rest
            assert required, f"{model.__name__}.{name} is optional"
    if extra is not None:  # the request and the contract: the details and nothing else
        assert set(model_fields) == set(DETAILS) | extra, model.__name__


def test_the_upcoming_list_names_only_details_besides_what_the_projection_counts() -> None:
    counted = {"meeting_id", "free", "waiting", "program"}
    assert set(s.UpcomingMeeting.model_fields) - counted <= set(DETAILS)


def test_the_read_model_has_a_column_for_every_detail() -> None:
    [create] = [m.sql for m in MIGRATIONS if "CREATE TABLE meeting_view" in m.sql]
    table = create.split("CREATE TABLE meeting_view (", 1)[1].split(");", 1)[0]
    columns = {m.group(1) for m in re.finditer(r"^\s*([a-z_]+)\s+[A-Z]", table, re.M)}
    assert set(DETAILS) <= columns, sorted(set(DETAILS) - columns)


def test_a_snapshot_holds_every_detail_with_times_as_text() -> None:
    state, _ = run(None, schedule())
    snapshot = meeting_to_json(state)
    for name in DETAILS:
        value = snapshot[name]
        assert isinstance(value, str) if name in TIMES else not isinstance(value, datetime)
