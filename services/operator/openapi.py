"""The OpenAPI documents of the four HTTP services, generated from their FastAPI apps.

Committed under ``contracts/openapi/``; a test fails when one differs from what the code
says now, so a change of an HTTP edge (a path, a parameter, a model, a problem answer) is
always a visible change of a committed file. Regenerate with
``python -m services.operator openapi`` (or ``make openapi``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.operator.asyncapi import write

OPENAPI_DIR = Path(__file__).resolve().parents[2] / "contracts" / "openapi"
SERVICES = ("membership", "events", "notifications", "web")


def app_of(service: str) -> FastAPI:
    """The service's app as its bootstrap builds it with default settings (nothing
    connects: only the lifespan would). A document, never a running service: the public
    development keys are fine here."""
    if service == "membership":
        from services.membership.bootstrap import bootstrap as membership
        from services.membership.config import Settings as MembershipSettings

        return membership(MembershipSettings(development=True))
    if service == "events":
        from services.events.bootstrap import bootstrap as events
        from services.events.config import Settings as EventsSettings

        return events(EventsSettings(development=True)).app
    if service == "notifications":
        from services.notifications.bootstrap import bootstrap as notifications
        from services.notifications.config import Settings as NotificationsSettings

        return notifications(NotificationsSettings(development=True), background=False).app
    if service == "web":
        from services.web.app import create_app
        from services.web.config import Settings

        return create_app(Settings())
    raise ValueError(f"no HTTP service {service!r}; one of {', '.join(SERVICES)}")


def generate(service: str) -> dict[str, Any]:
    """The OpenAPI document of one service, as a JSON object."""
    return app_of(service).openapi()


def write_all() -> list[Path]:
    return write(OPENAPI_DIR, SERVICES, generate)
