"""Per-file query counts, buffered in memory and flushed to the system of record.

Counting must never slow a search down or make it fail: searches only bump an in-memory
counter; a background task writes the totals every ``flush_seconds``. The counts live in a SQLite
file beside the LanceDB folder (so they survive an index rebuild), or in PostgreSQL with
``PERSONAS_DATABASE_URL`` (so every host's searches add to one total). A database that cannot
be opened or written disables counting with one warning; search goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path

from standards.db import STORE_ERRORS, Database, Migration, open_database
from standards.sqlite import DatabaseUnusableError

log = logging.getLogger(__name__)

_SCHEMA = "CREATE TABLE IF NOT EXISTS query_counts (doc TEXT PRIMARY KEY, count INTEGER NOT NULL DEFAULT 0)"
MIGRATIONS = (Migration(1, "query_counts", _SCHEMA, _SCHEMA.replace("INTEGER", "BIGINT")),)
_FAILURES: tuple[type[BaseException], ...] = (*STORE_ERRORS, DatabaseUnusableError)


class QueryCounter:
    def __init__(self, target: Path | str, *, flush_seconds: float = 2.0) -> None:
        self._target = target
        self._flush_seconds = flush_seconds
        self._pending: Counter[str] = Counter()
        self._stack = AsyncExitStack()
        self._db: Database | None = None
        self._task: asyncio.Task[None] | None = None
        self._failed = False

    async def start(self) -> None:
        try:
            db = await self._stack.enter_async_context(open_database(self._target))
            await db.migrate("query_counts", MIGRATIONS)
        except _FAILURES as exc:
            await self._stack.aclose()
            self._disable(exc)
            return
        self._db = db
        self._task = asyncio.create_task(self._flush_loop(), name="standards-query-counts")

    def record(self, docs: list[str]) -> None:
        self._pending.update(set(docs))

    async def counts(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        if self._db is not None:
            try:
                for row in await self._db.fetch("SELECT doc, count FROM query_counts"):
                    totals[str(row["doc"])] = int(row["count"])
            except _FAILURES as exc:
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
                "ON CONFLICT (doc) DO UPDATE SET count = query_counts.count + excluded.count",
                list(pending.items()),
            )
        except _FAILURES as exc:
            self._pending.update(pending)
            self._disable(exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        self._db = None
        await self._stack.aclose()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            await self.flush()

    def _disable(self, exc: BaseException) -> None:
        if not self._failed:
            where = self._target if isinstance(self._target, Path) else "the database"
            log.warning("query counts disabled (%s): %s", where, exc)
        self._failed = True
