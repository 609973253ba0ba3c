"""Sealing a person's fields with their data key, and opening them again.

The fields are JSON, encrypted with AES-256-GCM under the person's own key; the person id
is bound as associated data, so a sealed text cannot be passed off as another person's.
A sealed text reads ``v1.<base64url of nonce + ciphertext>``. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ERASED = "[slettet]"
"""What a projection shows instead of an erased person's name (Danish: deleted)."""

SEAL_VERSION = "v1"
NONCE_BYTES = 12
_AD_PREFIX = b"kl-privacy-v1|"


class SealError(ValueError):
    """Sealed text that cannot be opened: tampered, for another person, or unknown format."""


def associated_data(person_id: str) -> bytes:
    """What binds a sealed text (and a wrapped data key) to its person."""
    return _AD_PREFIX + person_id.encode()


def seal(person_id: str, key: bytes, fields: dict[str, Any]) -> str:
    """``fields`` as JSON, encrypted with the person's key; the person id is bound as
    associated data, so the text cannot be passed off as another person's."""
    nonce = os.urandom(NONCE_BYTES)
    ct = AESGCM(key).encrypt(nonce, orjson.dumps(fields), associated_data(person_id))
    return f"{SEAL_VERSION}.{base64.urlsafe_b64encode(nonce + ct).decode().rstrip('=')}"


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def open_sealed(
    person_id: str, key: bytes, sealed: str, ciphers: dict[bytes, AESGCM] | None = None
) -> dict[str, Any]:
    """The fields :func:`seal` sealed; :class:`SealError` if it cannot be opened.

    ``ciphers``: a caller opening many texts (a projection's batch) passes a dict in which
    the cipher of each key is kept for the batch, instead of making one per text.
    """
    version, _, body = sealed.partition(".")
    if version != SEAL_VERSION or not body:
        raise SealError("unknown sealed format")
    try:
        # base64.urlsafe_b64decode, without its per-call checks (a hot path of a rebuild)
        raw = binascii.a2b_base64(
            body.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-len(body) % 4)
        )
        cipher = None if ciphers is None else ciphers.get(key)
        if cipher is None:
            cipher = AESGCM(key)
            if ciphers is not None:
                ciphers[key] = cipher
        plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data(person_id))
        fields = orjson.loads(plain)
    except (InvalidTag, ValueError, binascii.Error) as exc:
        raise SealError("sealed text does not open") from exc
    if not isinstance(fields, dict):
        raise SealError("sealed text is not an object")
    return fields
