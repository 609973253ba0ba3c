"""``Idempotency-Key``: a retried POST gets the first answer again, and does nothing twice.

Use inside the command's transaction: :func:`begin` serialises requests with the same key
(a transaction-level advisory lock) and returns the stored answer if there is one;
:func:`remember` stores the answer in the same transaction as the command's events.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.kernel.db import Migration, lock_key
from services.kernel.http import ProblemError

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
)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any


def request_hash(payload: Any) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def begin(
    conn: asyncpg.Connection, scope: str, key: str, payload_hash: str
) -> StoredResponse | None:
    """Lock the key for this transaction; the earlier answer, if the request was made before."""
    if not 1 <= len(key) <= 200:
        raise ProblemError(
            400,
            "idempotency-key-invalid",
            "Ugyldig Idempotency-Key",
            "Idempotency-Key skal være 1 til 200 tegn.",
            "Idempotency-Key must be 1 to 200 characters.",
        )
    await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(f"idem:{scope}:{key}"))
    row = await conn.fetchrow(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
        scope,
        key,
    )
    if row is None:
        return None
    if row["request_hash"] != payload_hash:
        raise ProblemError(
            422,
            "idempotency-key-reused",
            "Idempotency-Key er brugt til en anden forespørgsel",
            "Denne Idempotency-Key blev brugt til en forespørgsel med andet indhold. "
            "Brug en ny nøgle til en ny forespørgsel.",
            "This Idempotency-Key was used for a request with other content. "
            "Use a new key for a new request.",
        )
    return StoredResponse(row["status"], row["body"])


async def remember(
    conn: asyncpg.Connection, scope: str, key: str, payload_hash: str, status: int, body: Any
) -> None:
    await conn.execute(
        """INSERT INTO idempotency_keys (scope, key, request_hash, status, body)
           VALUES ($1, $2, $3, $4, $5)""",
        scope,
        key,
        payload_hash,
        status,
        body,
    )
