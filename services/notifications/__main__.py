"""``python -m services.notifications``: the notifications service on 127.0.0.1:8003."""

from __future__ import annotations

import os

import uvicorn

from services.kernel.logging import configure_logging
from services.notifications.bootstrap import bootstrap
from services.notifications.config import Settings


def main() -> None:
    configure_logging("notifications")
    settings = Settings()
    # NOTIFICATIONS_PORT names this service's port; a bare PORT (platform style) is the fallback.
    explicit = "NOTIFICATIONS_PORT" in os.environ
    port = settings.port if explicit else int(os.environ.get("PORT", settings.port))
    service = bootstrap(settings)
    uvicorn.run(service.app, host=settings.host, port=port, log_config=None)


if __name__ == "__main__":
    main()
