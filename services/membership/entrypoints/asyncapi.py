"""The membership service's AsyncAPI document.

``faststream docs gen services.membership.entrypoints.asyncapi:asyncapi`` writes it. The
CLI wants an app-like object with a ``schema`` (a specification factory), so ``asyncapi``
is a FastStream app around the runtime's broker that is never run; ``specification`` is
the factory itself. Both are built from the wiring the service runs (publishers and the
roster subscriber), without connecting to anything.
"""

from __future__ import annotations

from faststream import FastStream
from faststream.specification import AsyncAPI

from services.membership.bootstrap import build_runtime
from services.membership.config import Settings

# A document, never a running service: the public development keys are fine here.
_runtime = build_runtime(Settings(development=True))

specification: AsyncAPI = _runtime.asyncapi(
    description="Memberships of KL's networks: municipalities join a network for a "
    "calendar year. Events are CloudEvents 1.0 in Kafka binary mode; key = membership id."
)
asyncapi = FastStream(_runtime.broker, specification=specification, logger=None)
