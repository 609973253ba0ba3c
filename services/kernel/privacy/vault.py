"""The key vault: persons, their data keys wrapped under a master key, and erasure.

The vault is one PostgreSQL database shared by every service (``<SERVICE>_PRIVACY__*``):

- ``persons``: HMAC-SHA256(pepper, normalised e-mail) -> a RANDOM person id and the
  person's data key, wrapped (AES-GCM) under the master key. The id is random, not derived
  from the e-mail, so once the row is gone nothing links the id in old events to anyone.
- ``holds``: why a person's data is still needed, and until when (:mod:`.retention`).
- ``erasures``: the audit of erasures (person id, when, why; nothing personal).

The same e-mail gives the same person id until the person is erased (so the meeting
aggregate can refuse a second registration without seeing the e-mail); after an erasure the
e-mail gets a new person. A rotation of the master key wraps every data key again
(:meth:`Vault.rewrap`); the data keys, and so everything sealed, stay as they are.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.kernel.db import Migration, create_pool
from services.kernel.emails import normalise_email
from services.kernel.privacy.retention import Retention
from services.kernel.privacy.seal import NONCE_BYTES, associated_data, open_sealed
from services.kernel.privacy.settings import PrivacySettings, master_key_bytes

log = structlog.get_logger(__name__)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "privacy-0001-vault",
        """
        CREATE TABLE persons (
            email_digest BYTEA PRIMARY KEY,
            person_id    TEXT NOT NULL UNIQUE,
            wrapped_key  BYTEA NOT NULL,
            created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE TABLE holds (
            person_id TEXT NOT NULL,
            holder    TEXT NOT NULL,
            until     TIMESTAMPTZ,
            PRIMARY KEY (person_id, holder)
        );
        CREATE INDEX holds_until ON holds (until);
        CREATE TABLE erasures (
            person_id TEXT PRIMARY KEY,
            erased_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            reason    TEXT NOT NULL
        );
        """,
    ),
)


class MasterKeyError(RuntimeError):
    """A data key is wrapped under none of the configured master keys."""


@dataclass(frozen=True)
class PersonKey:
    """A person's id and data key."""

    person_id: str
    key: bytes


def new_person_id() -> str:
    return f"person-{uuid.uuid4().hex}"


class Vault:
    """The key vault of one process: a small pool on the vault database, opened on first
    use, and a time-bounded cache of data keys (dropped for a person on erasure)."""

    def __init__(self, settings: PrivacySettings | None = None) -> None:
        self.settings = settings or PrivacySettings()
        self._master = AESGCM(master_key_bytes(self.settings.master_key, "master_key"))
        self._previous = [
            AESGCM(master_key_bytes(k, "previous_master_keys"))
            for k in self.settings.previous_master_keys
        ]
        self._pepper = base64.b64decode(self.settings.pepper.get_secret_value())
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None
        self._keys: dict[str, tuple[bytes | None, float]] = {}
        self._waiting: dict[bytes, list[asyncio.Future[PersonKey]]] = {}
        self._pending: dict[bytes, datetime] = {}
        self._flusher: asyncio.Task[None] | None = None
        self.round_trips = 0
        self.retention = Retention(self.pool, self._count_round_trip)
        """The holds on persons' data (:class:`Retention`), on this vault's database."""

    # --- plumbing -------------------------------------------------------------------

    async def pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                self._pool = await create_pool(
                    self.settings.database_url,
                    MIGRATIONS,
                    min_size=1,
                    max_size=self.settings.pool_size,
                )
        return self._pool

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _count_round_trip(self) -> None:
        self.round_trips += 1

    def digest(self, email: str) -> bytes:
        return hmac.new(self._pepper, normalise_email(email).encode(), hashlib.sha256).digest()

    def _wrap(self, person_id: str, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._master.encrypt(nonce, key, associated_data(person_id))

    def _unwrap(self, person_id: str, wrapped: bytes) -> bytes:
        return self._unwrap_any(person_id, wrapped)[0]

    def _unwrap_any(self, person_id: str, wrapped: bytes) -> tuple[bytes, bool]:
        """The data key, and whether it is wrapped under the current master key (else
        under a previous one, until :meth:`rewrap` has run)."""
        nonce, body = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
        ad = associated_data(person_id)
        for n, master in enumerate((self._master, *self._previous)):
            try:
                return master.decrypt(nonce, body, ad), n == 0
            except InvalidTag:
                continue
        raise MasterKeyError(
            "a data key in the vault is wrapped under none of the configured master keys: "
            "after a rotation, list the key used before in PRIVACY__PREVIOUS_MASTER_KEYS "
            "until `python -m services.operator rewrap-keys` has run"
        )

    def _remember(self, person_id: str, key: bytes | None) -> None:
        if len(self._keys) > 100_000:
            self._keys.clear()
        # An erased person stays erased: a None is kept for good, a key for a while.
        expires = float("inf") if key is None else time.monotonic() + self.settings.key_cache_s
        self._keys[person_id] = (key, expires)

    def forget(self, person_id: str) -> None:
        """Drop a cached key (called when a person's erasure is seen)."""
        self._keys.pop(person_id, None)

    # --- persons --------------------------------------------------------------------

    async def person_for(self, email: str, *, pending_until: datetime | None = None) -> PersonKey:
        """The person of an e-mail, made if new; race-safe across processes.

        Calls that arrive while a round trip is running are gathered and answered by the
        next one: a rush of registrations costs one round trip per batch, not per request.
        ``pending_until``: hold the person ("pending") until then, in the same batch, unless
        they are held "pending" already. A person made for a request that is then refused
        gets no other hold, and the retention sweeper erases them once it has passed,
        instead of keeping their e-mail's digest and a key for ever. A later request never
        moves the hold: the request is asked for before it is decided, and requests that
        are refused again and again (probing whether an address is registered) must not
        keep the person for ever.
        """
        future: asyncio.Future[PersonKey] = asyncio.get_running_loop().create_future()
        digest = self.digest(email)
        self._waiting.setdefault(digest, []).append(future)
        if pending_until is not None:
            known = self._pending.get(digest)
            self._pending[digest] = pending_until if known is None else max(known, pending_until)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                pending, self._pending = self._pending, {}
                try:
                    found = await self._persons_for_digests(list(batch), pending)
                except BaseException as exc:
                    for futures in batch.values():
                        for f in futures:
                            if not f.done():
                                f.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for digest, futures in batch.items():
                    for f in futures:
                        if not f.done():
                            f.set_result(found[digest])
        finally:
            self._flusher = None

    async def persons_for(self, emails: Sequence[str]) -> list[PersonKey]:
        """:meth:`person_for` of many e-mails in one round trip, in the same order."""
        digests = [self.digest(e) for e in emails]
        found = await self._persons_for_digests(list(dict.fromkeys(digests)))
        return [found[d] for d in digests]

    async def _persons_for_digests(
        self, digests: list[bytes], pending: dict[bytes, datetime] | None = None
    ) -> dict[bytes, PersonKey]:
        found = await self._find_or_make(digests)
        if pending:
            # The first "pending" hold stays (see person_for): set once, never renewed.
            await self.retention.hold(
                [(found[d].person_id, "pending", until) for d, until in pending.items()],
                keep_existing=True,
            )
        return found

    async def _find_or_make(self, digests: list[bytes]) -> dict[bytes, PersonKey]:
        pool = await self.pool()
        found: dict[bytes, PersonKey] = {}
        missing = list(digests)
        for _ in range(5):
            self.round_trips += 1
            ids = [new_person_id() for _ in missing]
            keys = [AESGCM.generate_key(bit_length=256) for _ in missing]
            wrapped = [self._wrap(pid, k) for pid, k in zip(ids, keys, strict=True)]
            # New persons are inserted; for those that exist (or that another process
            # inserts at this moment) the second statement reads the row that won.
            async with pool.acquire() as conn:
                await conn.execute(
                    """INSERT INTO persons (email_digest, person_id, wrapped_key)
                       SELECT * FROM unnest($1::bytea[], $2::text[], $3::bytea[])
                       ON CONFLICT (email_digest) DO NOTHING""",
                    missing,
                    ids,
                    wrapped,
                )
                rows = await conn.fetch(
                    """SELECT email_digest, person_id, wrapped_key FROM persons
                       WHERE email_digest = ANY($1::bytea[])""",
                    missing,
                )
            for row in rows:
                pid = row["person_id"]
                key = self._unwrap(pid, row["wrapped_key"])
                self._remember(pid, key)
                found[bytes(row["email_digest"])] = PersonKey(pid, key)
            missing = [d for d in missing if d not in found]
            if not missing:
                return found
        raise RuntimeError("persons kept vanishing while being made")

    async def find(self, email: str) -> str | None:
        """The person id of an e-mail, if the vault knows it (never makes one)."""
        pool = await self.pool()
        pid: str | None = await pool.fetchval(
            "SELECT person_id FROM persons WHERE email_digest = $1", self.digest(email)
        )
        return pid

    async def key(self, person_id: str) -> bytes | None:
        """The person's data key; None when the person is erased (or never existed)."""
        return (await self.keys([person_id]))[person_id]

    async def keys(self, person_ids: Iterable[str]) -> dict[str, bytes | None]:
        """:meth:`key` of many persons, from the cache or in one round trip."""
        now = time.monotonic()
        result: dict[str, bytes | None] = {}
        missing: list[str] = []
        for pid in dict.fromkeys(person_ids):
            cached = self._keys.get(pid)
            if cached is not None and cached[1] > now:
                result[pid] = cached[0]
            else:
                missing.append(pid)
        if missing:
            pool = await self.pool()
            self.round_trips += 1
            rows = await pool.fetch(
                "SELECT person_id, wrapped_key FROM persons WHERE person_id = ANY($1::text[])",
                missing,
            )
            got = {r["person_id"]: self._unwrap(r["person_id"], r["wrapped_key"]) for r in rows}
            for pid in missing:
                result[pid] = got.get(pid)
                self._remember(pid, result[pid])
        return result

    async def open(self, person_id: str, sealed: str) -> dict[str, Any] | None:
        """The sealed fields, or None when the person is erased."""
        return (await self.open_many([(person_id, sealed)]))[0]

    async def open_many(self, items: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """:meth:`open` of many (person id, sealed) pairs, with one key round trip."""
        keys = await self.keys(pid for pid, _ in items)
        opened: list[dict[str, Any] | None] = []
        for pid, sealed in items:
            key = keys.get(pid)
            opened.append(None if key is None else open_sealed(pid, key, sealed))
        return opened

    # --- master key rotation --------------------------------------------------------

    async def rewrap(self, page: int = 1000) -> tuple[int, int]:
        """Wrap every data key under the current master key; (rewrapped, already current).

        Page by page, each page in its own transaction with its rows locked (an erasure of
        one of them waits for it). The data keys themselves do not change, so everything
        sealed stays readable and erasure still shreds it. Idempotent: run it again after a
        process that still had the old master key as current made new persons.
        """
        pool = await self.pool()
        after = ""
        rewrapped = current = 0
        while True:
            async with pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(
                    """SELECT person_id, wrapped_key FROM persons WHERE person_id > $1
                       ORDER BY person_id LIMIT $2 FOR UPDATE""",
                    after,
                    page,
                )
                if not rows:
                    return rewrapped, current
                ids: list[str] = []
                wrapped: list[bytes] = []
                for row in rows:
                    key, under_current = self._unwrap_any(row["person_id"], row["wrapped_key"])
                    if under_current:
                        current += 1
                        continue
                    ids.append(row["person_id"])
                    wrapped.append(self._wrap(row["person_id"], key))
                if ids:
                    await conn.execute(
                        """UPDATE persons p SET wrapped_key = u.wrapped_key
                           FROM unnest($1::text[], $2::bytea[]) AS u(person_id, wrapped_key)
                           WHERE p.person_id = u.person_id""",
                        ids,
                        wrapped,
                    )
                rewrapped += len(ids)
                after = rows[-1]["person_id"]

    # --- erasure ---------------------------------------------------------------------

    async def erase(self, person_id: str, reason: str) -> bool:
        """Delete the person's key, digest and holds; record the erasure (idempotent).

        True if the person was known and is erased now; False if already erased.
        """
        pool = await self.pool()
        async with pool.acquire() as conn, conn.transaction():
            deleted = await conn.fetchval(
                "DELETE FROM persons WHERE person_id = $1 RETURNING true", person_id
            )
            await conn.execute("DELETE FROM holds WHERE person_id = $1", person_id)
            await conn.execute(
                """INSERT INTO erasures (person_id, reason) VALUES ($1, $2)
                   ON CONFLICT (person_id) DO NOTHING""",
                person_id,
                reason,
            )
        self._remember(person_id, None)
        log.info("person erased", person_id=person_id, reason=reason, known=bool(deleted))
        return bool(deleted)

    async def known(self, person_id: str) -> bool:
        """Whether the vault holds the person (not erased, and not unknown)."""
        pool = await self.pool()
        found = await pool.fetchval("SELECT true FROM persons WHERE person_id = $1", person_id)
        return bool(found)

    async def erased(self, person_id: str) -> bool:
        pool = await self.pool()
        found = await pool.fetchval("SELECT true FROM erasures WHERE person_id = $1", person_id)
        return bool(found)
