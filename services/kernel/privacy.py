"""The key vault: crypto-shredding of personal data in an event-sourced system.

Events are kept forever, so personal data in them (names, e-mails, notes) is never written
in clear: it is *sealed* with a data key of its own per person (AES-256-GCM), and the event
carries only the person's random id and the sealed text. Erasing a person deletes the key;
every copy of the sealed text, in event stores, snapshots, topics and backups, can then no
longer be opened by anyone, while the events themselves (seats, statuses, counts) stay.

The vault is one PostgreSQL database shared by every service (``<SERVICE>_PRIVACY__*``):

- ``persons``: HMAC-SHA256(pepper, normalised e-mail) -> a RANDOM person id and the
  person's data key, wrapped (AES-GCM) under the master key. The id is random, not derived
  from the e-mail, so once the row is gone nothing links the id in old events to anyone.
- ``holds``: why a person's data is still needed, and until when (retention).
- ``erasures``: the audit of erasures (person id, when, why; nothing personal).

The same e-mail gives the same person id until the person is erased (so the meeting
aggregate can refuse a second registration without seeing the e-mail); after an erasure the
e-mail gets a new person. This module knows no domain.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
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
import orjson
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from services.kernel.db import Migration, create_pool
from services.kernel.emails import normalise_email

log = structlog.get_logger(__name__)

ERASED = "[slettet]"
"""What a projection shows instead of an erased person's name (Danish: deleted)."""

SEAL_VERSION = "v1"
_NONCE = 12
_AD_PREFIX = b"kl-privacy-v1|"

_DEV_MASTER_KEY = base64.b64encode(b"kl-dev-master-key-not-for-prod!!").decode()
_DEV_PEPPER = base64.b64encode(b"kl-dev-pepper-not-for-production").decode()
DEVELOPMENT_SECRETS = frozenset({_DEV_MASTER_KEY, _DEV_PEPPER})
"""The master key and pepper written in this file (public): development only."""


class PrivacySettings(BaseModel):
    """The vault, nested in each service's settings: ``EVENTS_PRIVACY__DATABASE_URL``..."""

    # A validation error must not print a key it refuses.
    model_config = ConfigDict(hide_input_in_errors=True)

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:55432/kl_privacy",
        description="The key vault's database, shared by every service.",
    )
    master_key: SecretStr = Field(
        default=SecretStr(_DEV_MASTER_KEY),
        description="Base64 of 32 bytes: wraps every person's data key. The default is for "
        "development only; production takes it from a secret store.",
    )
    previous_master_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Master keys used before a rotation (a JSON list of base64 keys): "
        "they still open the data keys wrapped under them and never wrap a new one. Remove "
        "them once `python -m services.operator rewrap-keys` has rewrapped every key.",
    )
    pepper: SecretStr = Field(
        default=SecretStr(_DEV_PEPPER),
        description="Base64 of at least 16 bytes: the HMAC key of e-mail digests.",
    )
    key_cache_s: float = Field(
        default=30.0, ge=0, description="How long a process may reuse a data key it fetched."
    )
    retention_days: int = Field(
        default=90,
        ge=0,
        description="Days after a meeting's end before its participants' "
        "personal data is erased automatically.",
    )
    pending_days: int = Field(
        default=7,
        ge=1,
        description="Days a person made for a request is held ('pending') at least: a "
        "request that was refused gives them no other hold, so the retention sweeper "
        "erases them once this has run out.",
    )
    sweep_interval_s: float = Field(
        default=60.0, gt=0, le=3600, description="How often the retention sweeper looks."
    )
    pool_size: int = Field(default=5, ge=1)

    def development_values(self) -> list[str]:
        """The settings that hold the public development key or pepper."""
        named = [("master_key", self.master_key), ("pepper", self.pepper)] + [
            (f"previous_master_keys[{n}]", k) for n, k in enumerate(self.previous_master_keys)
        ]
        return [name for name, value in named if value.get_secret_value() in DEVELOPMENT_SECRETS]

    @field_validator("master_key")
    @classmethod
    def _a_master_key(cls, value: SecretStr) -> SecretStr:
        _master_key_bytes(value, "master_key")
        return value

    @field_validator("pepper")
    @classmethod
    def _a_pepper(cls, value: SecretStr) -> SecretStr:
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("pepper is not base64 (make one: openssl rand -base64 32)") from None
        if len(raw) < 16:
            raise ValueError(f"pepper must be at least 16 bytes, base64-encoded; it is {len(raw)}")
        return value

    @field_validator("previous_master_keys")
    @classmethod
    def _master_keys(cls, values: list[SecretStr]) -> list[SecretStr]:
        for n, value in enumerate(values):
            _master_key_bytes(value, f"previous_master_keys[{n}]")
        return values


def _master_key_bytes(value: SecretStr, name: str) -> bytes:
    """The 32 bytes of a base64 master key; a clear error (without the key) otherwise."""
    try:
        raw = base64.b64decode(value.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} is not base64 (make one: openssl rand -base64 32)") from None
    if len(raw) != 32:
        raise ValueError(f"{name} must be 32 bytes, base64-encoded; it is {len(raw)} bytes")
    return raw


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


class SealError(ValueError):
    """Sealed text that cannot be opened: tampered, for another person, or unknown format."""


class MasterKeyError(RuntimeError):
    """A data key is wrapped under none of the configured master keys."""


@dataclass(frozen=True)
class PersonKey:
    """A person's id and data key."""

    person_id: str
    key: bytes


def new_person_id() -> str:
    return f"person-{uuid.uuid4().hex}"


def _ad(person_id: str) -> bytes:
    return _AD_PREFIX + person_id.encode()


def seal(person_id: str, key: bytes, fields: dict[str, Any]) -> str:
    """``fields`` as JSON, encrypted with the person's key; the person id is bound as
    associated data, so the text cannot be passed off as another person's."""
    nonce = os.urandom(_NONCE)
    ct = AESGCM(key).encrypt(nonce, orjson.dumps(fields), _ad(person_id))
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
        plain = cipher.decrypt(raw[:_NONCE], raw[_NONCE:], _ad(person_id))
        fields = orjson.loads(plain)
    except (InvalidTag, ValueError, binascii.Error) as exc:
        raise SealError("sealed text does not open") from exc
    if not isinstance(fields, dict):
        raise SealError("sealed text is not an object")
    return fields


class Vault:
    """The key vault of one process: a small pool on the vault database, opened on first
    use, and a time-bounded cache of data keys (dropped for a person on erasure)."""

    def __init__(self, settings: PrivacySettings | None = None) -> None:
        self.settings = settings or PrivacySettings()
        self._master = AESGCM(_master_key_bytes(self.settings.master_key, "master_key"))
        self._previous = [
            AESGCM(_master_key_bytes(k, "previous_master_keys"))
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

    def digest(self, email: str) -> bytes:
        return hmac.new(self._pepper, normalise_email(email).encode(), hashlib.sha256).digest()

    def _wrap(self, person_id: str, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._master.encrypt(nonce, key, _ad(person_id))

    def _unwrap(self, person_id: str, wrapped: bytes) -> bytes:
        return self._unwrap_any(person_id, wrapped)[0]

    def _unwrap_any(self, person_id: str, wrapped: bytes) -> tuple[bytes, bool]:
        """The data key, and whether it is wrapped under the current master key (else
        under a previous one, until :meth:`rewrap` has run)."""
        nonce, body, ad = wrapped[:_NONCE], wrapped[_NONCE:], _ad(person_id)
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
            await self.hold(
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

    # --- erasure and retention ------------------------------------------------------

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

    async def hold(
        self, holds: Sequence[tuple[str, str, datetime | None]], *, keep_existing: bool = False
    ) -> None:
        """Add or move holds: (person id, holder, until; None = until released).

        Holds of persons the vault does not know (erased) are ignored. ``keep_existing``:
        add the holds that do not exist, never move one that does.
        """
        if not holds:
            return
        conflict = "DO NOTHING" if keep_existing else "DO UPDATE SET until = excluded.until"
        pool = await self.pool()
        self.round_trips += 1
        await pool.execute(
            f"""INSERT INTO holds (person_id, holder, until)
               SELECT h.* FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                   AS h(person_id, holder, until)
               WHERE EXISTS (SELECT 1 FROM persons p WHERE p.person_id = h.person_id)
               ON CONFLICT (person_id, holder) {conflict}""",
            [h[0] for h in holds],
            [h[1] for h in holds],
            [h[2] for h in holds],
        )

    async def move_holds(self, holder: str, until: datetime | None) -> int:
        """Move every hold of one holder (a meeting that moved); how many."""
        pool = await self.pool()
        status: str = await pool.execute(
            "UPDATE holds SET until = $2 WHERE holder = $1", holder, until
        )
        return int(status.split()[-1])

    async def due_for_retention(self, now: datetime, limit: int = 500) -> list[str]:
        """Persons whose holds have all expired at ``now`` (persons with no hold are kept:
        a hold-less person was never given a retention rule)."""
        pool = await self.pool()
        rows = await pool.fetch(
            """SELECT person_id FROM holds GROUP BY person_id
               HAVING bool_and(until IS NOT NULL AND until <= $1)
               ORDER BY person_id LIMIT $2""",
            now,
            limit,
        )
        return [r["person_id"] for r in rows]
