"""Fixtures shared by all tests.

Integration and end-to-end tests need the local stack (``deploy/local/stack.sh up``); each
test gets a database and a Kafka topic prefix of its own, so tests never see each other's
data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.kernel.db import drop_database, ensure_database, with_database
from tests.support.kafka import delete_topics
from tests.support.stack import ADMIN_DSN

# The tests run the services with the public development key and pepper of the key vault
# (and some with the development issuer): a development run, said explicitly, as the local
# stack and `make run` say it. A test of the refusal sets it off itself.
for _prefix in ("MEMBERSHIP", "EVENTS", "NOTIFICATIONS"):
    os.environ.setdefault(f"{_prefix}_DEVELOPMENT", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if "/integration/" in path:
            item.add_marker(pytest.mark.integration)
        elif "/e2e/" in path:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def unique() -> str:
    """A short random token for names of databases, topics and groups."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def fresh_dsn(unique: str) -> AsyncIterator[str]:
    """A new, empty database on the stack's PostgreSQL, dropped after the test."""
    dsn = with_database(ADMIN_DSN, f"t_{unique}")
    await ensure_database(dsn)
    try:
        yield dsn
    finally:
        await drop_database(dsn)


@pytest.fixture
async def topic_prefix(unique: str) -> AsyncIterator[str]:
    """A Kafka topic prefix of the test's own; its topics are deleted afterwards."""
    prefix = f"t{unique}."
    yield prefix
    try:
        await delete_topics(prefix)
    except Exception as exc:  # never fail a test over housekeeping (e.g. Kafka stopped)
        print(f"could not delete topics {prefix}*: {exc!r}")


@pytest.fixture
async def admin_conn() -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        yield conn
    finally:
        await conn.close()
