"""The one way this project opens SQLite: aiosqlite, WAL, autocommit, generous busy timeout.

Autocommit (``isolation_level=None``): every write is one statement and its own transaction.
Python's implicit BEGIN would let coroutines sharing a connection interleave inside one
transaction, and one failed write would leave it open, failing every later write. WAL lets the
server and workers on a host read while one of them writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite


@asynccontextmanager
async def connect(path: Path, *, schema: str = "", busy_seconds: float = 10.0) -> AsyncIterator[aiosqlite.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(path, timeout=busy_seconds, isolation_level=None) as db:
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        if schema:
            await db.executescript(schema)
        yield db


async def add_missing_columns(db: aiosqlite.Connection, table: str, columns: dict[str, str]) -> None:
    """Databases written by an older version lack newer columns; add them (rows are kept).
    ``columns`` maps name → SQL type; names and types are this project's constants, never input."""
    present = {row[1] for row in await db.execute_fetchall(f"PRAGMA table_info({table})")}
    for column, kind in columns.items():
        if column not in present:
            await db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
