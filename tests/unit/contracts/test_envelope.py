"""The CloudEvents envelope in Kafka binary mode."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from contracts.envelope import Envelope, EnvelopeError, decode, encode


def sample() -> Envelope:
    return Envelope(
        type="dk.kl.membership.joined.v1",
        source="/kl/membership",
        subject="membership-knub-2022-101",
        data={"year": 2022, "name": "København"},
        id=UUID("7d4c1f5e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"),
        time=datetime(2021, 11, 19, 9, 0, tzinfo=UTC),
        correlation_id="corr-1",
        causation_id="cause-1",
    )


def test_binary_mode_puts_attributes_in_ce_headers_and_data_in_the_value() -> None:
    wire = encode(sample())
    headers = dict(wire.headers)
    assert wire.key == b"membership-knub-2022-101"
    assert headers["ce_id"] == b"7d4c1f5e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
    assert headers["ce_type"] == b"dk.kl.membership.joined.v1"
    assert headers["ce_source"] == b"/kl/membership"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_subject"] == b"membership-knub-2022-101"
    assert headers["ce_time"] == b"2021-11-19T09:00:00Z"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_correlationid"] == b"corr-1"
    assert headers["ce_causationid"] == b"cause-1"
    assert b'"name": "K\\u00f8benhavn"' in wire.value or "København".encode() in wire.value


def test_decode_reverses_encode() -> None:
    original = sample()
    wire = encode(original)
    assert decode(wire.key, wire.headers, wire.value) == original


@pytest.mark.parametrize(
    ("headers", "value", "message"),
    [
        ([], b"{}", "missing CloudEvents header 'ce_id'"),
        (
            [
                ("ce_id", b"x"),
                ("ce_type", b"t.v1"),
                ("ce_source", b"/s"),
                ("ce_specversion", b"1.0"),
            ],
            b"{}",
            "ce_id is not a UUID",
        ),
        (
            [
                ("ce_id", b"7d4c1f5e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"),
                ("ce_type", b"t.v1"),
                ("ce_source", b"/s"),
                ("ce_specversion", b"1.0"),
                ("content-type", b"application/json"),
            ],
            b"{broken",
            "payload is not JSON",
        ),
    ],
)
def test_decode_says_what_is_wrong(
    headers: list[tuple[str, bytes]], value: bytes, message: str
) -> None:
    with pytest.raises(EnvelopeError, match=message):
        decode(b"k", headers, value)
