"""The PostgreSQL backend: an asyncpg connection pool; ``?`` placeholders become ``$1, $2, …``.

Each call takes a pooled connection for one statement (autocommit, like the SQLite backend), so
concurrent coroutines never share a transaction. Connection failures and server errors other
than constraint violations surface as :class:`~standards.db.StoreError`; a violated constraint
or trigger (a decided proposal changed, a terminal job rewritten) stays asyncpg's
``IntegrityConstraintViolationError`` / ``RaiseError`` so callers can tell a refusal from an outage.
"""

from __future__ import annotations

import asyncio
import re
import time
import zlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import asyncpg

from standards.db import StoreError, redact
from standards.db.migrations import SCHEMA_TABLE_POSTGRES, Migration, check_order

POOL_MAX = 20
CONNECT_SECONDS = 10.0
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """``?`` placeholders (outside quoted literals and identifiers) as ``$1, $2, …``."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) != "?":
            return match.group(0)
        count += 1
        return f"${count}"

    return _TOKEN.sub(replace, sql)


def _rowcount(status: str) -> int:
    """asyncpg's command status ("UPDATE 3", "INSERT 0 1", "DELETE 0") as a row count."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


_PASSING = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a pooled connection cut mid-operation by a server restart
    asyncpg.OperatorInterventionError,  # shutting down, starting up, crashed
    asyncpg.TooManyConnectionsError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


class PostgresDatabase:
    dialect: Literal["postgres"] = "postgres"
    path: Path | None = None

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self.url = url

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, *, max_size: int = POOL_MAX) -> AsyncIterator[PostgresDatabase]:
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size, timeout=CONNECT_SECONDS)
        except (*_PASSING, asyncpg.PostgresError) as exc:  # also a wrong password or database name
            raise StoreError(
                f"cannot connect to PostgreSQL at {redact(url)} ({type(exc).__name__}: {exc}). Check that it runs "
                "and is reachable and that PERSONAS_DATABASE_URL (host, user, password, database) is right, "
                "then restart agent-personas"
            ) from exc
        try:
            yield cls(pool, url)
        finally:
            await pool.close()

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return _rowcount(await self._pool.execute(numbered(sql), *params))
        except _PASSING as exc:
            raise StoreError(f"PostgreSQL at {redact(self.url)}: {type(exc).__name__}: {exc}") from exc

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self._pool.executemany(numbered(sql), [tuple(r) for r in rows])
        except _PASSING as exc:
            raise StoreError(f"PostgreSQL at {redact(self.url)}: {type(exc).__name__}: {exc}") from exc

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Mapping[str, Any]]:
        try:
            records = await self._pool.fetch(numbered(sql), *params)
        except _PASSING as exc:
            raise StoreError(f"PostgreSQL at {redact(self.url)}: {type(exc).__name__}: {exc}") from exc
        return [dict(record.items()) for record in records]

    async def migrate(self, component: str, migrations: Sequence[Migration]) -> list[int]:
        check_order(component, migrations)
        applied: list[int] = []
        async with self._pool.acquire() as conn, conn.transaction():
            # Concurrent starts queue on this lock; the loser then sees the winner's rows.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", zlib.crc32(b"agent-personas-migrations"))
            await conn.execute(SCHEMA_TABLE_POSTGRES)
            rows = await conn.fetch("SELECT version FROM schema_migrations WHERE component=$1", component)
            done = {int(r["version"]) for r in rows}
            for migration in migrations:
                if migration.version in done:
                    continue
                await conn.execute(migration.postgres)
                await conn.execute(
                    "INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)",
                    component,
                    migration.version,
                    migration.name,
                    time.time(),
                )
                applied.append(migration.version)
        return applied

    async def add_missing_columns(self, table: str, columns: Mapping[str, str]) -> None:
        rows = await self.fetch("SELECT column_name FROM information_schema.columns WHERE table_name=?", (table,))
        missing = [c for c in columns if c not in {r["column_name"] for r in rows}]
        if not missing:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", zlib.crc32(b"agent-personas-migrations"))
            for column in missing:
                await conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {columns[column]}")

    async def size_bytes(self, tables: Sequence[str] = ()) -> int:
        total = 0
        for table in tables:
            rows = await self.fetch("SELECT COALESCE(pg_total_relation_size(to_regclass(?)), 0) AS n", (table,))
            total += int(rows[0]["n"]) if rows else 0
        return total

    async def free_bytes(self) -> int:
        return 0  # autovacuum reclaims dead rows; nothing for the store to do

    async def vacuum(self) -> None:
        return None
