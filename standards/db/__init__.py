"""The system of record's database: one small interface, two backends, versioned migrations.

- **SQLite** (the embedded default): ``jobs.sqlite3`` / ``proposals.sqlite3`` in the data dir,
  opened by :mod:`standards.sqlite` (aiosqlite, WAL, integrity check at open). One host.
- **PostgreSQL** (teams, several hosts): ``PERSONAS_DATABASE_URL=postgresql://…``, through
  asyncpg with a connection pool. Jobs, conversations, usage and proposals share one database.

Stores (``worker.store.JobStore``, ``standards.curation.store.ProposalStore``) write each query
once, in the SQL both backends accept, with ``?`` placeholders (the Postgres backend numbers
them). Every write is one statement and its own transaction; guarded transitions read the row
count. Schema changes are :class:`~standards.db.migrations.Migration` lists applied at open, in
order, once (recorded in ``schema_migrations``), under a lock so concurrent starts are safe.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from standards.db.migrations import Migration

Row = Mapping[str, Any]
Dialect = Literal["sqlite", "postgres"]


class StoreError(Exception):
    """A database operation failed for a reason that may pass (connection lost, server restarting)."""


STORE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, StoreError, OSError)
"""What a loop that must survive database hiccups (lease heartbeat, recovery) catches and retries."""


class Database(Protocol):
    """What a store needs from a backend."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def path(self) -> Path | None:
        """The SQLite file; None on Postgres."""
        ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return every row (as a mapping of column name to value)."""
        ...

    async def migrate(self, component: str, migrations: Sequence[Migration]) -> list[int]:
        """Apply the migrations of ``component`` not applied yet, in order; returns their versions."""
        ...

    async def add_missing_columns(self, table: str, columns: Mapping[str, str]) -> None:
        """Add columns (name → SQL type of this dialect) that ``table`` lacks."""
        ...

    async def size_bytes(self, tables: Sequence[str]) -> int: ...

    async def free_bytes(self) -> int: ...

    async def vacuum(self) -> None: ...


_SECRET_QUERY = re.compile(r"([?&](?:ssl)?password=)[^&#]*", re.IGNORECASE)


def is_database_url(target: Path | str) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs: the one in ``user:password@`` and any
    ``password=`` / ``sslpassword=`` query parameter (libpq takes both)."""
    scheme, sep, rest = url.partition("://")
    path_start = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, tail = rest[:path_start], rest[path_start:]
    if "@" in netloc:
        creds, at, host = netloc.rpartition("@")
        user = creds.split(":", 1)[0]
        netloc = f"{user}:***{at}{host}" if ":" in creds else netloc
    tail = _SECRET_QUERY.sub(lambda m: m.group(1) + "***", tail)
    return f"{scheme}{sep}{netloc}{tail}"


@asynccontextmanager
async def open_database(target: Path | str) -> AsyncIterator[Database]:
    """A SQLite file path, or a ``postgresql://`` URL."""
    if is_database_url(target):
        from standards.db.postgres import PostgresDatabase

        async with PostgresDatabase.connect(str(target)) as pg:
            yield pg
        return
    from standards.db.sqlite_backend import SqliteDatabase

    async with SqliteDatabase.connect(Path(target)) as lite:
        yield lite


__all__ = [
    "STORE_ERRORS",
    "Database",
    "Dialect",
    "Migration",
    "Row",
    "StoreError",
    "is_database_url",
    "open_database",
    "redact",
]
