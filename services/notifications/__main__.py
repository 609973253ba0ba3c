"""``python -m services.notifications``: the notifications service on 127.0.0.1:8003."""

from __future__ import annotations

import uvicorn

from services.kernel.logging import configure_logging
from services.notifications.bootstrap import bootstrap
from services.notifications.config import Settings


def main() -> None:
    configure_logging("notifications")
    settings = Settings()
    service = bootstrap(settings)
    uvicorn.run(service.app, host=settings.host, port=settings.port, log_config=None)


if __name__ == "__main__":
    main()
