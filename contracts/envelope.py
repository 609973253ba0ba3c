"""The CloudEvents 1.0 envelope in Kafka binary content mode.

Encoding and decoding go through the ``cloudevents`` SDK's Kafka binding, so an independent
CloudEvents consumer reads our messages without knowing this code: attributes travel as
``ce_*`` headers, the key is the aggregate id and the value is the JSON payload.
Correlation and causation ids are CloudEvents extensions (``correlationid``,
``causationid``): extension names may only hold lowercase letters and digits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

JSON_CONTENT_TYPE = "application/json"
CORRELATION_EXT = "correlationid"
CAUSATION_EXT = "causationid"
_FORMAT = JSONFormat()


class EnvelopeError(ValueError):
    """A Kafka message is not a valid CloudEvent of ours (missing header, bad JSON, ...)."""


@dataclass(frozen=True)
class Envelope:
    """One event as it travels: the CloudEvents attributes and its JSON data."""

    type: str
    source: str
    subject: str
    data: dict[str, Any]
    id: UUID = field(default_factory=uuid4)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str | None = None
    causation_id: str | None = None
    dataschema: str | None = None

    @property
    def key(self) -> str:
        """The Kafka key: the aggregate (stream) id, so one aggregate keeps its order."""
        return self.subject


@dataclass(frozen=True)
class WireMessage:
    """A Kafka record ready to send or just received: key, headers and value as bytes."""

    key: bytes
    headers: tuple[tuple[str, bytes], ...]
    value: bytes

    def header(self, name: str) -> bytes | None:
        for header_name, value in self.headers:
            if header_name == name:
                return value
        return None


def encode(envelope: Envelope) -> WireMessage:
    """Write an envelope as a Kafka binary-mode CloudEvent."""
    attributes: dict[str, Any] = {
        "id": str(envelope.id),
        "source": envelope.source,
        "type": envelope.type,
        "subject": envelope.subject,
        "time": envelope.time,
        "datacontenttype": JSON_CONTENT_TYPE,
    }
    if envelope.dataschema:
        attributes["dataschema"] = envelope.dataschema
    if envelope.correlation_id:
        attributes[CORRELATION_EXT] = envelope.correlation_id
    if envelope.causation_id:
        attributes[CAUSATION_EXT] = envelope.causation_id
    message = to_binary(
        CloudEvent(attributes, envelope.data),
        _FORMAT,
        key_mapper=lambda event: event.get_subject(),
    )
    key = message.key.encode() if isinstance(message.key, str) else (message.key or b"")
    return WireMessage(key=key, headers=tuple(message.headers.items()), value=message.value)


def decode(
    key: bytes | None, headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes], value: bytes
) -> Envelope:
    """Read a Kafka binary-mode CloudEvent; raise :class:`EnvelopeError` if it is not one."""
    header_map = dict(headers.items() if isinstance(headers, Mapping) else headers)
    for required in ("ce_id", "ce_type", "ce_source", "ce_specversion"):
        if required not in header_map:
            raise EnvelopeError(f"missing CloudEvents header {required!r}")
    try:
        event = from_binary(KafkaMessage(headers=header_map, key=key, value=value), _FORMAT)
    except Exception as exc:  # the SDK raises several types for bad attributes
        raise EnvelopeError(f"not a CloudEvent: {exc}") from exc
    data = event.get_data()
    if not isinstance(data, dict):
        # The SDK falls back to text when JSON does not parse; we only carry JSON objects.
        try:
            data = json.loads(value)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EnvelopeError(f"payload is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise EnvelopeError("payload is not a JSON object")
    try:
        event_id = UUID(event.get_id())
    except ValueError as exc:
        raise EnvelopeError(f"ce_id is not a UUID: {event.get_id()!r}") from exc
    time = event.get_time() or datetime.now(UTC)
    subject = event.get_subject() or (key.decode() if key else "")
    return Envelope(
        type=event.get_type(),
        source=event.get_source(),
        subject=subject,
        data=data,
        id=event_id,
        time=time,
        correlation_id=event.get_extension(CORRELATION_EXT),
        causation_id=event.get_extension(CAUSATION_EXT),
        dataschema=event.get_dataschema(),
    )
