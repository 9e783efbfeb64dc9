"""Per-file query counts, buffered in memory and flushed to SQLite (aiosqlite, WAL).

Counting must never slow a search down or make it fail: searches only bump an in-memory
counter; a background task writes the totals every ``flush_seconds``. The database lives
beside the LanceDB folder, so it survives an index rebuild.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import Counter
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS query_counts (
    doc TEXT PRIMARY KEY,
    count INTEGER NOT NULL DEFAULT 0
)
"""


class QueryCounter:
    def __init__(self, db_path: Path, *, flush_seconds: float = 2.0) -> None:
        self._path = db_path
        self._flush_seconds = flush_seconds
        self._pending: Counter[str] = Counter()
        self._db: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._failed = False

    async def start(self) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = await aiosqlite.connect(self._path, timeout=5.0)
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute(_SCHEMA)
            await self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            self._disable(exc)
            return
        self._task = asyncio.create_task(self._flush_loop(), name="standards-query-counts")

    def record(self, docs: list[str]) -> None:
        self._pending.update(set(docs))

    async def counts(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        if self._db is not None:
            try:
                async with self._db.execute("SELECT doc, count FROM query_counts") as cursor:
                    async for doc, count in cursor:
                        totals[str(doc)] = int(count)
            except sqlite3.Error as exc:
                self._disable(exc)
        totals.update(self._pending)
        return dict(totals)

    async def flush(self) -> None:
        if self._db is None or not self._pending:
            return
        pending, self._pending = self._pending, Counter()
        try:
            await self._db.executemany(
                "INSERT INTO query_counts (doc, count) VALUES (?, ?) "
                "ON CONFLICT(doc) DO UPDATE SET count = count + excluded.count",
                list(pending.items()),
            )
            await self._db.commit()
        except sqlite3.Error as exc:
            self._pending.update(pending)
            self._disable(exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            await self.flush()

    def _disable(self, exc: BaseException) -> None:
        if not self._failed:
            log.warning("query counts disabled (%s): %s", self._path, exc)
        self._failed = True
