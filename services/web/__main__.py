"""``python -m services.web``: the web front end on 127.0.0.1:8000 (``WEB_PORT`` overrides)."""

from __future__ import annotations

import uvicorn

from services.kernel.logging import configure_logging
from services.web.app import create_app
from services.web.config import Settings


def main() -> None:
    settings = Settings()
    configure_logging("web")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


if __name__ == "__main__":
    main()
