"""The AsyncAPI document of the notifications service.

``faststream docs gen services.notifications.entrypoints.asyncapi:asyncapi`` writes it. The
CLI wants an app-like object with a ``schema``, so ``asyncapi`` is a FastStream app around
the runtime's broker; the service is built (never started) only to describe its
subscription and the events it publishes.
"""

from __future__ import annotations

from faststream import FastStream
from faststream.specification import AsyncAPI

from services.notifications.bootstrap import bootstrap
from services.notifications.config import Settings

# A document, never a running service: the public development keys are fine here.
_service = bootstrap(Settings(development=True), background=False)

specification: AsyncAPI = _service.runtime.asyncapi(
    description="Consumes membership and meeting events; e-mails participants, contact "
    "persons and KL's organiser; publishes what was queued, sent or failed on "
    "kl.notifications.notifications."
)
asyncapi = FastStream(_service.runtime.broker, specification=specification, logger=None)
