"""PostgreSQL plumbing: databases, pools and idempotent schema migrations."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Migration:
    """One schema step, identified by name; applied once per database."""

    name: str
    sql: str


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


def with_database(dsn: str, name: str) -> str:
    """The same server URL, naming another database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def ensure_database(dsn: str) -> None:
    """Create the database that ``dsn`` names if it does not exist (needs CREATEDB)."""
    name = database_name(dsn)
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        pass
    else:
        await conn.close()
        return
    admin = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.DuplicateDatabaseError:
        pass  # another instance created it a moment ago
    finally:
        await admin.close()


async def drop_database(dsn: str) -> None:
    name = database_name(dsn)
    admin = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` from a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def enter_shared(conn: asyncpg.Connection, guard: str) -> None:
    """Take ``guard`` shared until the caller's transaction ends (its first statement).

    Writers of a set of tables share the guard; an operation that must find none of them
    in flight, and keep new ones from starting (a rebuild), holds it :func:`exclusively`.
    Taken before anything else, so a writer never holds a row or table lock while it waits.
    """
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", lock_key(guard))


@asynccontextmanager
async def exclusively(conn: asyncpg.Connection, guard: str) -> AsyncIterator[None]:
    """Hold ``guard`` exclusively on this connection's session, outside any transaction.

    Session-level, so a REPEATABLE READ transaction opened inside takes its snapshot after
    every writer that held the guard has committed. A broken connection releases it with
    the session (and asyncpg's pool unlocks all advisory locks when a connection returns).
    """
    key = lock_key(guard)
    await conn.execute("SELECT pg_advisory_lock($1)", key)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", key)


class TablesBusyError(RuntimeError):
    """The tables could not be locked: other sessions kept them for every attempt."""


async def lock_tables(
    conn: asyncpg.Connection,
    tables: Sequence[str],
    mode: str = "ACCESS EXCLUSIVE",
    *,
    attempt_ms: int = 200,
    attempts: int = 600,
) -> None:
    """``LOCK TABLE`` inside the caller's transaction, giving way instead of deadlocking.

    LOCK TABLE takes its tables one by one. A reader whose one statement holds a later
    table and waits for an earlier one (a join names them in another order) would
    deadlock with it, and PostgreSQL would abort one of the two. Each attempt here waits
    at most ``attempt_ms`` and, if it times out, gives back what it got (a savepoint)
    so the reader can finish, then queues again. Nothing is read before the locks, so a
    REPEATABLE READ snapshot is still taken after them.
    """
    statement = f"LOCK TABLE {', '.join(tables)} IN {mode} MODE"
    for attempt in range(1, attempts + 1):
        # A savepoint released either way (asyncpg's nested transaction would stay inside
        # it after a rollback, and a snapshot cannot be exported from a subtransaction).
        await conn.execute("SAVEPOINT lock_tables")
        try:
            await conn.execute(f"SET LOCAL lock_timeout = '{int(attempt_ms)}ms'; {statement}")
        except asyncpg.LockNotAvailableError:
            await conn.execute("ROLLBACK TO SAVEPOINT lock_tables; RELEASE SAVEPOINT lock_tables")
            log.info("tables busy, will try again", tables=list(tables), attempt=attempt)
            continue
        await conn.execute("RELEASE SAVEPOINT lock_tables; SET LOCAL lock_timeout TO DEFAULT")
        return
    raise TablesBusyError(
        f"could not lock {', '.join(tables)} in {attempts} attempts of {attempt_ms} ms"
    )


async def migrate(conn: asyncpg.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet applied, in order, under a lock; return their names.

    Several instances starting at once serialise on a transaction-level advisory lock, so
    each step runs exactly once.
    """
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key("schema-migrations"))
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name TEXT PRIMARY KEY,
                   applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for migration in migrations:
            if migration.name in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", migration.name)
            applied.append(migration.name)
    if applied:
        log.info("schema migrated", applied=applied)
    return applied


async def init_connection(conn: asyncpg.Connection) -> None:
    """Connection set-up: JSON(B) values as Python objects (orjson)."""
    for type_name in ("jsonb", "json"):
        await conn.set_type_codec(
            type_name,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def create_pool(
    dsn: str, migrations: Sequence[Migration], *, min_size: int = 2, max_size: int = 10
) -> asyncpg.Pool:
    """Create the database if needed, migrate it and return a pool."""
    await ensure_database(dsn)
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, command_timeout=30, init=init_connection
    )
    async with pool.acquire() as conn:
        await migrate(conn, migrations)
    return pool


async def listen(dsn: str, channel: str, wake: asyncio.Event, stop: asyncio.Event) -> None:
    """Set ``wake`` on every NOTIFY on ``channel``, until ``stop`` is set.

    On a connection of its own (a pooled one cannot hold a LISTEN); reconnects with back-off
    when it is lost, and sets ``wake`` once it listens again. A waker only: a NOTIFY sent
    while it was not listening is gone, so whoever waits on ``wake`` still looks on its own
    now and then.
    """
    delay = 0.2
    while not stop.is_set():
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("cannot listen, will retry", channel=channel, error=type(exc).__name__)
        else:
            lost = asyncio.Event()
            try:
                conn.add_termination_listener(lambda _, lost=lost: lost.set())
                await conn.add_listener(channel, lambda *_: wake.set())
                wake.set()  # what was notified while no one listened
                delay = 0.2
                waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())}
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiting in waits:
                        waiting.cancel()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("listening failed, will retry", channel=channel, error=repr(exc))
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)  # back-off before reconnecting
            delay = min(delay * 2, 5.0)


async def wait_for_database(dsn: str, deadline_s: float = 30.0) -> None:
    """Wait until the server answers, or raise after ``deadline_s`` seconds."""
    loop = asyncio.get_running_loop()
    until = loop.time() + deadline_s
    delay = 0.1
    while True:
        try:
            conn = await asyncpg.connect(with_database(dsn, "postgres"), timeout=2)
        except (OSError, asyncpg.PostgresError) as exc:
            if loop.time() > until:
                raise TimeoutError(f"PostgreSQL did not answer: {exc}") from exc
            await asyncio.sleep(delay)  # wait-ok: back-off between connection attempts
            delay = min(delay * 2, 1.0)
        else:
            await conn.close()
            return
