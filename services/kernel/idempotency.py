"""``Idempotency-Key``: a retried POST gets the first answer again, and does nothing twice.

Use inside the command's transaction: :func:`begin` serialises requests with the same key
(a transaction-level advisory lock) and returns the stored record if there is one;
:func:`remember` stores it in the same transaction as the command's events.

A record is the caller's, kept for a while, and holds no personal data:

- **scoped to the caller**: :func:`scope` puts the token's subject into the scope, so two
  callers never share a key (nor learn of each other's requests by guessing keys);
- **kept ``HOUSEKEEPING__IDEMPOTENCY_HOURS`` (24 h)**, then swept (``housekeeping.py``);
- **no personal data**: the status, the request's hash and either the id of the resource
  the command made or changed (a replay reads the resource again, so an erased contact
  shows as erased) or a body that names no person (a registration's id, status, price).
  The request hash is a SHA-256 of a body that may hold an e-mail: it cannot be read back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.kernel.db import Migration, lock_key
from services.kernel.refusals import Refusal

MIGRATIONS = (
    Migration(
        "kernel-0002-idempotency-keys",
        """CREATE TABLE idempotency_keys (
               scope        TEXT NOT NULL,
               key          TEXT NOT NULL,
               request_hash TEXT NOT NULL,
               status       INTEGER NOT NULL,
               body         JSONB NOT NULL,
               created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
               PRIMARY KEY (scope, key))""",
    ),
    Migration(
        # Records of before held whole answers (membership's: the contact person's name and
        # e-mail in clear) under scopes without the caller, which no request matches any
        # more: they go, all of them.
        "kernel-0003-idempotency-by-resource",
        """ALTER TABLE idempotency_keys ADD COLUMN resource_id TEXT;
           ALTER TABLE idempotency_keys ALTER COLUMN body DROP NOT NULL;
           CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
           DELETE FROM idempotency_keys""",
    ),
)


class IdempotencyKeyInvalidError(Refusal):
    code = "idempotency-key-invalid"
    title = "Ugyldig Idempotency-Key"

    def __init__(self) -> None:
        super().__init__(
            "Idempotency-Key skal være 1 til 200 tegn.",
            "Idempotency-Key must be 1 to 200 characters.",
        )


class IdempotencyKeyReusedError(Refusal):
    code = "idempotency-key-reused"
    title = "Idempotency-Key er brugt til en anden forespørgsel"

    def __init__(self) -> None:
        super().__init__(
            "Denne Idempotency-Key blev brugt til en forespørgsel med andet indhold. "
            "Brug en ny nøgle til en ny forespørgsel.",
            "This Idempotency-Key was used for a request with other content. "
            "Use a new key for a new request.",
        )


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to a key: its status and either the resource to read again or a
    body without personal data."""

    status: int
    resource_id: str | None = None
    body: Any = None


def scope(name: str, subject: str) -> str:
    """The scope of ``name`` (``membership:join``) for one caller (the token's ``sub``)."""
    return f"{name}|{subject}"


def request_hash(payload: Any) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def begin(
    conn: asyncpg.Connection, scope: str, key: str, payload_hash: str
) -> StoredResponse | None:
    """Lock the key for this transaction; the earlier answer, if the request was made before.

    Refuses a key that is not 1 to 200 characters (:class:`IdempotencyKeyInvalidError`) and
    a key used before for another request (:class:`IdempotencyKeyReusedError`)."""
    if not 1 <= len(key) <= 200:
        raise IdempotencyKeyInvalidError()
    await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(f"idem:{scope}:{key}"))
    row = await conn.fetchrow(
        """SELECT request_hash, status, resource_id, body FROM idempotency_keys
           WHERE scope = $1 AND key = $2""",
        scope,
        key,
    )
    if row is None:
        return None
    if row["request_hash"] != payload_hash:
        raise IdempotencyKeyReusedError()
    return StoredResponse(row["status"], row["resource_id"], row["body"])


async def remember(
    conn: asyncpg.Connection,
    scope: str,
    key: str,
    payload_hash: str,
    status: int,
    *,
    resource_id: str | None = None,
    body: Any = None,
) -> None:
    """Store the answer to ``key``: the id of the resource to read again on a replay, or a
    ``body`` that names no person (never a name, an e-mail or other personal data)."""
    await conn.execute(
        """INSERT INTO idempotency_keys (scope, key, request_hash, status, resource_id, body)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        scope,
        key,
        payload_hash,
        status,
        resource_id,
        body,
    )
