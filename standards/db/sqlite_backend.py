"""The SQLite backend: one aiosqlite connection (WAL, autocommit) from the one opener, standards.sqlite."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from standards import sqlite
from standards.db.migrations import SCHEMA_TABLE_SQLITE, Migration, check_order, split_sqlite


class SqliteDatabase:
    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path: Path | None = path

    @classmethod
    @asynccontextmanager
    async def connect(cls, path: Path) -> AsyncIterator[SqliteDatabase]:
        async with sqlite.connect(path) as db:
            yield cls(db, path)

    @property
    def connection(self) -> aiosqlite.Connection:
        return self._db

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._db.execute(sql, tuple(params)) as cursor:
            return cursor.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._db.executemany(sql, [tuple(r) for r in rows])

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Mapping[str, Any]]:
        """Every row in one hop to the connection's thread. (``execute`` then ``fetchall`` would
        leave the statement open in between, holding a read snapshot while other coroutines write
        on this connection: SQLITE_BUSY_SNAPSHOT, "database is locked", at once.)"""
        rows = await self._db.execute_fetchall(sql, tuple(params))
        return [dict(row) for row in rows]

    async def migrate(self, component: str, migrations: Sequence[Migration]) -> list[int]:
        check_order(component, migrations)
        await self._db.execute(SCHEMA_TABLE_SQLITE)
        await self._db.execute("BEGIN IMMEDIATE")  # one writer: concurrent opens wait, then see ours
        try:
            rows = await self._db.execute_fetchall(
                "SELECT version FROM schema_migrations WHERE component=?", (component,)
            )
            done = {int(r[0]) for r in rows}
            applied = []
            for migration in migrations:
                if migration.version in done:
                    continue
                for statement in split_sqlite(migration.sqlite):
                    await self._db.execute(statement)
                await self._db.execute(
                    "INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)",
                    (component, migration.version, migration.name, time.time()),
                )
                applied.append(migration.version)
            await self._db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                await self._db.execute("ROLLBACK")
            raise
        return applied

    async def add_missing_columns(self, table: str, columns: Mapping[str, str]) -> None:
        present = {row[1] for row in await self._db.execute_fetchall(f"PRAGMA table_info({table})")}
        if set(columns) <= present:
            return
        await self._db.execute("BEGIN IMMEDIATE")  # concurrent starts: one adds, the others see it
        try:
            await sqlite.add_missing_columns(self._db, table, dict(columns))
            await self._db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                await self._db.execute("ROLLBACK")
            raise

    async def size_bytes(self, tables: Sequence[str] = ()) -> int:
        """The database file plus its write-ahead log."""
        return _file_sizes(self.path)

    async def free_bytes(self) -> int:
        pages = await self._db.execute_fetchall("PRAGMA freelist_count")
        size = await self._db.execute_fetchall("PRAGMA page_size")
        return int(next(iter(pages))[0] or 0) * int(next(iter(size))[0] or 0)

    async def vacuum(self) -> None:
        """Reclaim free pages and truncate the WAL. Runs on its own connection: VACUUM cannot run
        inside the shared connection's open transactions."""
        async with aiosqlite.connect(self.path or ":memory:", timeout=30.0, isolation_level=None) as db:
            for sql in ("PRAGMA busy_timeout=30000", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"):
                await db.execute_fetchall(sql)  # fetch to the end: no statement left in progress


def _file_sizes(path: Path | None) -> int:
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            total += Path(f"{path}{suffix}").stat().st_size
    return total
