"""What the events routes take from FastAPI: the service's parts (``Depends``) and the path
and header parameters they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Header, Path, Request
from pydantic import AfterValidator

from services.events.service_layer.batching import MeetingService
from services.events.service_layer.erasure import ErasureService
from services.events.service_layer.handlers import MeetingHandlers
from services.kernel.clock import Clock
from services.kernel.http import from_app_state, no_control_characters
from services.kernel.shared_poll import SharedPoll
from services.kernel.stream_limits import StreamLimiter


@dataclass(frozen=True)
class Wiring:
    """The parts the routes work with, set on the app by ``create_app``."""

    handlers: MeetingHandlers
    meetings: MeetingService
    clock: Clock
    pool: Callable[[], asyncpg.Pool]
    erasure: ErasureService
    availability: SharedPoll[dict[str, Any]]
    """A meeting's availability, read once per interval for all its live listeners."""
    stream_limits: StreamLimiter


Wired = Annotated[Wiring, Depends(from_app_state("wiring"))]


async def _handlers(request: Request) -> MeetingHandlers:
    """The use cases, straight from the app's state: the command routes' one dependency of
    their own, one level deep and ``async`` (a plain ``def`` would hop to the thread pool),
    since every registration of a rush resolves it."""
    handlers: MeetingHandlers = request.app.state.wiring.handlers
    return handlers


Handlers = Annotated[MeetingHandlers, Depends(_handlers)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Send the same key again to get the first answer again, with no new effect.",
    ),
]

MeetingRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        description="The meeting's id (meeting-<slug or uuid>) or just its slug.",
        examples=["meeting-knub-2021-3"],
    ),
    AfterValidator(no_control_characters),
]
RegistrationRef = Annotated[
    str,
    Path(min_length=1, max_length=200, examples=["reg-4f1c2a9b3d7e"]),
    AfterValidator(no_control_characters),
]

PROBLEM = {"description": "Refused (problem+json, Danish detail and English detail_en)."}
PAGED = (
    "At most `limit` rows; when more follow, the answer has a `Link: <?limit=..&cursor=..>; "
    'rel="next"` header: ask that (relative to this address) for the next page.'
)
MEETING_ANSWERS: dict[int | str, dict[str, Any]] = {400: PROBLEM, 404: PROBLEM, 409: PROBLEM}
"""The refusals every route of a meeting may answer."""
