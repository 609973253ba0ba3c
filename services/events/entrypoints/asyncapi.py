"""The events service's AsyncAPI document.

``faststream docs gen services.events.entrypoints.asyncapi:asyncapi`` writes it. The CLI
wants an app-like object with a ``schema``, so ``asyncapi`` is a FastStream app around the
runtime's broker that is never run; ``specification`` is the factory itself. Both come from
the wiring the service runs: the meetings topic it publishes (through the outbox relay) and
the membership topics and its own topic it subscribes to. Nothing connects at import.
"""

from __future__ import annotations

from faststream import FastStream
from faststream.specification import AsyncAPI

from services.events.bootstrap import bootstrap
from services.events.config import Settings

# A document, never a running service: the public development keys are fine here.
_service = bootstrap(Settings(development=True))

specification: AsyncAPI = _service.runtime.asyncapi(
    description="Network meetings, seats, registrations and the waiting list. Events are "
    "CloudEvents 1.0 in Kafka binary mode; key = meeting id (one stream per meeting)."
)
asyncapi = FastStream(_service.runtime.broker, specification=specification, logger=None)
