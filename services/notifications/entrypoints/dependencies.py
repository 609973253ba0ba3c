"""What the notifications routes take from FastAPI: the service's parts (``Depends``) and
the parameters they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Query

from services.kernel.http import from_app_state
from services.kernel.privacy import Vault


@dataclass(frozen=True)
class Wiring:
    """The parts the routes work with, set on the app by ``create_app``."""

    pool: Callable[[], asyncpg.Pool]
    vault: Vault


Wired = Annotated[Wiring, Depends(from_app_state("wiring"))]

Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]
