"""Looking for personal data where it must not be: every column of every table."""

from __future__ import annotations

import json
from urllib.parse import quote

import asyncpg


def forms(secret: str) -> set[str]:
    """A secret as it may be written: as is, JSON-escaped, URL-encoded."""
    return {secret, json.dumps(secret)[1:-1], quote(secret), quote(secret, safe="")}


def found_in(text: str, secrets: list[str]) -> list[str]:
    low = text.lower()
    return [s for s in secrets if any(f.lower() in low for f in forms(s))]


async def scan_database(dsn: str, secrets: list[str]) -> list[str]:
    """Every row of every table, every column (text, JSON, bytes): where a secret is."""
    conn = await asyncpg.connect(dsn)
    hits: list[str] = []
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        assert tables, f"no tables in {dsn}"
        for table in tables:
            for row in await conn.fetch(f'SELECT * FROM "{table}"'):
                for column, value in row.items():
                    if isinstance(value, bytes | bytearray | memoryview):
                        text = bytes(value).decode("utf-8", errors="replace")
                    else:
                        text = str(value)
                    hits += [f"{table}.{column}: {s}" for s in found_in(text, secrets)]
    finally:
        await conn.close()
    return hits
