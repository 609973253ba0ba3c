"""Starting and stopping: a service's parts start before it serves and stop after."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol


class Lifecycle(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@asynccontextmanager
async def running(part: Lifecycle) -> AsyncIterator[None]:
    """``part`` started for the block and stopped after it, also when the block fails:
    what a FastAPI ``lifespan`` is."""
    await part.start()
    try:
        yield
    finally:
        await part.stop()
