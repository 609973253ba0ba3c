"""``python -m services.events``: the events service on 127.0.0.1:8002 (``EVENTS_PORT``)."""

from __future__ import annotations

import uvicorn

from services.events.bootstrap import bootstrap
from services.events.config import Settings
from services.kernel.logging import configure_logging


def main() -> None:
    settings = Settings()
    configure_logging("events")
    service = bootstrap(settings)
    uvicorn.run(service.app, host=settings.host, port=settings.port, log_config=None)


if __name__ == "__main__":
    main()
