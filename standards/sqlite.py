"""The one way this project opens SQLite: aiosqlite, WAL, autocommit, generous busy timeout.

Autocommit (``isolation_level=None``): every write is one statement and its own transaction.
Python's implicit BEGIN would let coroutines sharing a connection interleave inside one
transaction, and one failed write would leave it open, failing every later write. WAL lets the
server and workers on a host read while one of them writes.

**Integrity at open.** A database is checked before it is used: the file header, then SQLite's
``PRAGMA quick_check``. A damaged file is refused with :class:`DatabaseUnusableError`, which names
the file, the cause and the fix; the file is left exactly as it was. A store never starts empty
over a file that held data:

- a missing file is created (a new history; moving a damaged file aside is the documented fix);
- a zero-length file that was never initialised (no backup beside it) is initialised: SQLite
  itself creates databases that way, and a crash between creating and writing the file leaves one;
- a zero-length file beside a backup once held a database (it was truncated): refused.

**Backups.** Each open of a healthy database refreshes ``<file>.bak`` (``VACUUM INTO``, mode 0600)
when it is older than a day, so the refusal can point at a recent copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

HEADER = b"SQLite format 3\x00"
BACKUP_SUFFIX = ".bak"
BACKUP_EVERY_SECONDS = 86_400.0
_DAMAGED_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


class DatabaseUnusableError(RuntimeError):
    """An existing database cannot be used; the message names the file, the cause and the fix."""

    def __init__(self, path: Path, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"{path} {cause}. {_fix(path)}")


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def _fix(path: Path) -> str:
    backup = backup_path(path)
    moved = f"{path}.damaged-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    fix = (
        f"Nothing was changed. Stop the server and workers, move the file aside (mv {path} {moved}; "
        f"also remove {path.name}-wal and {path.name}-shm if present) and restart: a new, empty database is created."
    )
    if backup.is_file():
        stamp = datetime.fromtimestamp(backup.stat().st_mtime, UTC).isoformat(timespec="seconds")
        fix += f" A backup from {stamp} is at {backup}: copy it to {path} instead to keep that history."
    return fix


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def check_file(path: Path) -> None:
    """Refuse a file that is not a SQLite database, before SQLite touches it. Blocking (a stat and
    a 16-byte read): call it from a thread in async code."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DatabaseUnusableError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if size == 0:
        wal = Path(f"{path}-wal")
        if _size(wal) > 0:
            return  # a new WAL database whose pages are all still in the log: SQLite reads it
        if backup_path(path).is_file():
            raise DatabaseUnusableError(
                path, "is empty (0 bytes) but held a database before (a backup of it exists): it was truncated"
            )
        return  # never initialised: created empty, or a crash before its first write
    try:
        with path.open("rb") as handle:
            head = handle.read(len(HEADER))
    except OSError as exc:
        raise DatabaseUnusableError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if head != HEADER:
        raise DatabaseUnusableError(
            path, f"is not a SQLite database (no SQLite header in its first bytes; {size} bytes)"
        )


async def _quick_check(db: aiosqlite.Connection, path: Path) -> None:
    rows = await db.execute_fetchall("PRAGMA quick_check(5)")
    problems = [str(row[0]) for row in rows if str(row[0]) != "ok"]
    if problems:
        raise DatabaseUnusableError(path, "is damaged (SQLite quick_check: " + "; ".join(problems)[:300] + ")")


async def _refresh_backup(db: aiosqlite.Connection, path: Path) -> None:
    """Copy the database to ``<file>.bak`` when that copy is missing or older than a day."""
    backup = backup_path(path)
    try:
        if time.time() - backup.stat().st_mtime < BACKUP_EVERY_SECONDS:
            return
    except FileNotFoundError:
        pass
    tmp = backup.with_name(f"{backup.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        await db.execute_fetchall("VACUUM INTO ?", (str(tmp),))
        tmp.chmod(0o600)
        os.replace(tmp, backup)
    except (OSError, sqlite3.Error):
        # A backup is a convenience: a full disk must not stop the store from opening.
        with contextlib.suppress(OSError):
            tmp.unlink()


async def _use_wal(db: aiosqlite.Connection, busy_seconds: float) -> None:
    """Switch to WAL. Several processes opening a new file at once race for this switch, and SQLite
    answers the losers "database is locked" at once (its busy handler does not cover it): retry
    until the file is in WAL mode or ``busy_seconds`` pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + busy_seconds
    while True:
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or loop.time() > deadline:
                raise
        await asyncio.sleep(0.02)


@asynccontextmanager
async def connect(
    path: Path, *, schema: str = "", busy_seconds: float = 10.0, backup: bool = True
) -> AsyncIterator[aiosqlite.Connection]:
    """Open ``path`` (created if missing), checked as the module docstring says; raises
    :class:`DatabaseUnusableError` for a damaged file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    check_file(path)
    async with aiosqlite.connect(path, timeout=busy_seconds, isolation_level=None) as db:
        db.row_factory = aiosqlite.Row
        try:
            await _use_wal(db, busy_seconds)
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
            await _quick_check(db, path)
            if schema:
                await db.executescript(schema)
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _DAMAGED_CODES:
                raise
            raise DatabaseUnusableError(path, f"is damaged ({exc})") from exc
        if backup:
            await _refresh_backup(db, path)
        yield db


async def add_missing_columns(db: aiosqlite.Connection, table: str, columns: dict[str, str]) -> None:
    """Databases written by an older version lack newer columns; add them (rows are kept).
    ``columns`` maps name → SQL type; names and types are this project's constants, never input."""
    present = {row[1] for row in await db.execute_fetchall(f"PRAGMA table_info({table})")}
    for column, kind in columns.items():
        if column not in present:
            await db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
