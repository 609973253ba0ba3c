"""The demo's one way to load a piece: look it up, and make it only if it is not there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container
from typing import Literal

import httpx

Found = Literal["present", "made", "refused"]


async def look_up_or_make(
    client: httpx.AsyncClient,
    url: str,
    make: Callable[[], Awaitable[httpx.Response]],
    *,
    made: Container[int] = (200, 201),
) -> tuple[Found, httpx.Response]:
    """GET ``url``: "present" with the answer if it is there (200). On a 404, ``make()``:
    "made" with its answer if its status is one of ``made``. Otherwise "refused", with the
    answer that was not one of these (the look-up's or the making's)."""
    present = await client.get(url)
    if present.status_code == 200:
        return "present", present
    if present.status_code != 404:
        return "refused", present
    answer = await make()
    return ("made" if answer.status_code in made else "refused"), answer
