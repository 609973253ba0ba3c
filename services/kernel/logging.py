"""structlog JSON logging with a correlation id carried through requests and events.

The correlation id lives in a context variable: the HTTP middleware binds it from the
``X-Correlation-ID`` header (or makes one), the event store writes it into each event's
metadata and CloudEvents extension, and the subscriber runtime binds it again from the
event it handles. Personal data (names, e-mails) is never passed to a logger: log ids.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import uuid4

import structlog

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current_correlation_id() -> str | None:
    return _correlation_id.get()


def new_correlation_id() -> str:
    return str(uuid4())


@contextmanager
def correlation(correlation_id: str | None) -> Iterator[str]:
    """Bind a correlation id (a fresh one if None) for the duration of a block."""
    value = correlation_id or new_correlation_id()
    token = _correlation_id.set(value)
    try:
        yield value
    finally:
        _correlation_id.reset(token)


def _add_correlation_id(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    cid = _correlation_id.get()
    if cid is not None:
        event_dict.setdefault("correlation_id", cid)
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stderr for our logs and the libraries' (uvicorn, aiokafka, ...)."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_correlation_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            lambda _, __, ev: {"service": service, **ev},
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
