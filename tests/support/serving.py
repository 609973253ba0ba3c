"""An ASGI app on a real socket of 127.0.0.1, in the test's event loop (SSE needs a
streaming transport; httpx's ASGITransport waits for the whole answer)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from tests.support.ports import free_port
from tests.support.waiting import wait_until


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """``app`` served (no lifespan: the test starts what it needs) while the block runs;
    its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    try:

        async def started() -> bool:
            return bool(server.started)

        await wait_until(started, timeout=10, what="server started")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
