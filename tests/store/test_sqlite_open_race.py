"""Several processes opening a new SQLite file at once: every open succeeds (none is told "database is
locked" by the race to switch the new file to WAL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from standards import sqlite


async def test_concurrent_first_opens_of_a_new_file_all_succeed(tmp_path: Path) -> None:
    async def open_once(path: Path) -> str:
        async with sqlite.connect(path, backup=False) as db:
            (row,) = await db.execute_fetchall("PRAGMA journal_mode")
            return str(row[0])

    for attempt in range(20):  # the race is lost now and then, so try it many times
        path = tmp_path / f"jobs-{attempt}.sqlite3"
        modes = await asyncio.gather(*(open_once(path) for _ in range(8)), return_exceptions=True)
        assert modes == ["wal"] * 8, modes
