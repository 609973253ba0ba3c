"""Cursor pagination of lists: a limit with a maximum, an opaque cursor, a ``next`` link.

A list route answers a JSON array as before (clients that read one page of a short list
need no change) and, when more rows follow, a ``Link: <?limit=..&cursor=..>;
rel="next"`` header (RFC 8288). The target is a relative reference holding only the
query, so it resolves against whatever path the client used: the service's own, or the
web app's ``/api/<service>/...``. The cursor is the sort key of the page's last row,
base64url-encoded JSON: opaque to clients, checked when it comes back (a cursor that does
not decode is a 400 problem, not a server error). Keyset, not offset: a row added or
removed between two pages neither repeats nor skips another.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import Query, Response

from services.kernel.http import ProblemError

MAX_LIMIT = 500

PageLimit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Rows per page (at most {MAX_LIMIT}).")
]
PageCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=1000,
        description='Where the page starts: the cursor of the Link: rel="next" header of the '
        "page before. Opaque.",
    ),
]


def encode_cursor(key: Sequence[Any]) -> str:
    """The cursor after a row whose sort key is ``key`` (JSON-able values)."""
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str | None, length: int) -> list[Any] | None:
    """The sort key a cursor holds (``length`` values), None for no cursor; a 400 problem
    for a cursor this service did not give."""
    if cursor is None:
        return None
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        key = None
    if not isinstance(key, list) or len(key) != length:
        raise ProblemError(
            400,
            "invalid-cursor",
            "Ugyldig markør",
            'Markøren (cursor) kan ikke læses. Brug den fra Link-headeren (rel="next") på '
            "siden før, eller hent den første side uden cursor.",
            'The cursor cannot be read. Use the one from the Link header (rel="next") of the '
            "page before, or fetch the first page without a cursor.",
        )
    return key


def page(
    rows: list[Any], keys: Sequence[Sequence[Any]], limit: int, response: Response
) -> list[Any]:
    """The first ``limit`` of ``rows`` (the caller fetched ``limit + 1``; ``keys[i]`` is
    the sort key of ``rows[i]``); when there were more, a ``Link`` header to the next page,
    whose cursor is the sort key of this page's last row."""
    if len(rows) <= limit:
        return rows
    query = urlencode({"limit": limit, "cursor": encode_cursor(keys[limit - 1])})
    response.headers["Link"] = f'<?{query}>; rel="next"'
    return rows[:limit]
