"""``python -m services.membership``: the membership service (``MEMBERSHIP_PORT``, 8001)."""

from __future__ import annotations

import uvicorn

from services.kernel.logging import configure_logging
from services.membership.bootstrap import SERVICE_NAME, bootstrap
from services.membership.config import Settings


def main() -> None:
    settings = Settings()
    configure_logging(SERVICE_NAME, settings.log_level)
    uvicorn.run(
        bootstrap(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
