"""The demo's yearly lists: the confirmed part of the lists of 1 December 2021.

Loaded through the membership service's API, as an operator would, marked as partial; what
the service holds already (the demo's list, or a fuller one an operator imported since) is
left as it is. Either way the report says that the demo's list is partial.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import httpx

from services.operator.demo_lookup import look_up_or_make

DEMO_LIST = Path(__file__).parent / "demo_data" / "area-list-2021-12-01.csv"
DEMO_LIST_DATE = "2021-12-01"
PARTIAL = (
    "partial: the part of the lists of 1 December 2021 that could be confirmed (all 12 "
    "parallelsamfund, 14 of the 20 udsat areas, 3 of the 62 forebyggelsesområder; "
    "services/operator/demo_data/README.md)"
)


class Report(Protocol):
    notes: list[str]
    problems: list[str]


async def load_area_list(client: httpx.AsyncClient, membership_url: str, report: Report) -> None:
    """Import the demo's list unless the service has a list of that date."""
    found, answer = await look_up_or_make(
        client,
        f"{membership_url}/area-lists/{DEMO_LIST_DATE}",
        lambda: client.post(
            f"{membership_url}/area-lists",
            content=DEMO_LIST.read_bytes(),
            headers={"Content-Type": "text/csv"},
            params={"partial": "true"},
        ),
    )
    if found == "refused":
        report.problems.append(f"area list {DEMO_LIST_DATE}: HTTP {answer.status_code}")
        return
    body = answer.json()
    if found == "present":
        kind = "partial" if body.get("partial") else "not marked partial"
        report.notes.append(
            f"area list {DEMO_LIST_DATE}: present, revision {body.get('revision')}, "
            f"{body.get('rows')} rows ({kind}); left as it is. The demo's list is {PARTIAL}"
        )
    else:
        report.notes.append(
            f"area list {DEMO_LIST_DATE}: imported, {body['rows']} rows in "
            f"{body['municipalities']} municipalities; {PARTIAL}"
        )
