"""JobStore: job records in SQLite (aiosqlite, WAL), shared by the server and workers on a host.

Terminal states are immutable: every update is guarded in SQL, not only by callers.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from personas.runtime import ProgressUpdate
from worker.models import TERMINAL_STATUSES, JobState, JobStatus

_JSON_FIELDS = frozenset({"findings"})
_COLUMNS: tuple[str, ...] = tuple(JobState.model_fields)
_TERMINAL_SQL = "(" + ",".join(f"'{s.value}'" for s in TERMINAL_STATUSES) + ")"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    {", ".join(f"{c} " + ("REAL" if c.endswith("_at") else "") for c in _COLUMNS if c != "id")}
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_persona ON jobs (persona, created_at);
"""


class JobStore:
    """Typed access to the ``jobs`` table. Open it with :meth:`open`."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[JobStore]:
        path.parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(path, timeout=10.0) as db:
            db.row_factory = aiosqlite.Row
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA busy_timeout=10000")
            await db.executescript(_SCHEMA)
            await db.commit()
            yield cls(db, path)

    # ---- writes ---------------------------------------------------------------------------

    async def insert(self, job: JobState) -> None:
        row = _to_row(job)
        marks = ",".join("?" for _ in row)
        await self._db.execute(f"INSERT INTO jobs ({','.join(row)}) VALUES ({marks})", tuple(row.values()))
        await self._db.commit()

    async def mark_running(self, job_id: str) -> JobState | None:
        """Claim a pending (or re-delivered running) job; ``None`` if it is gone or already terminal."""
        now = time.time()
        cursor = await self._db.execute(
            f"UPDATE jobs SET status='running', started_at=COALESCE(started_at, ?), attempts=attempts+1, "
            f"progress_phase='initializing', progress_percent=0, progress_message='Starting' "
            f"WHERE id=? AND status NOT IN {_TERMINAL_SQL}",
            (now, job_id),
        )
        await self._db.commit()
        if cursor.rowcount == 0:
            return None
        return await self.get(job_id)

    async def update_progress(self, job_id: str, update: ProgressUpdate) -> bool:
        cursor = await self._db.execute(
            "UPDATE jobs SET progress_phase=?, progress_percent=?, progress_message=?, progress_eta_seconds=?, "
            "tool_calls_made=?, tokens_input=?, tokens_output=?, partial_result=COALESCE(?, partial_result) "
            "WHERE id=? AND status='running'",
            (
                update.phase,
                update.percent_complete,
                update.message,
                update.eta_seconds,
                update.tool_calls_completed,
                update.tokens_input,
                update.tokens_output,
                update.partial_result,
                job_id,
            ),
        )
        await self._db.commit()
        return cursor.rowcount > 0

    async def finish(self, job_id: str, status: JobStatus, **fields: Any) -> bool:
        """Move a job into a terminal state; ``False`` if it already was in one (nothing changes)."""
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"finish() needs a terminal status, got {status}")
        now = time.time()
        values: dict[str, Any] = {"status": status.value, "completed_at": now, **fields}
        if status is JobStatus.COMPLETE:
            values.update(progress_phase="done", progress_percent=100, progress_message="Complete", progress_eta_seconds=0)
        row = _to_row_partial(values)
        assignments = ",".join(f"{k}=?" for k in row)
        params: list[Any] = list(row.values())
        if "duration_seconds" not in row:
            assignments += ", duration_seconds = ? - COALESCE(started_at, created_at)"
            params.append(now)
        cursor = await self._db.execute(
            f"UPDATE jobs SET {assignments} WHERE id=? AND status NOT IN {_TERMINAL_SQL}",
            (*params, job_id),
        )
        await self._db.commit()
        return cursor.rowcount > 0

    # ---- reads ----------------------------------------------------------------------------

    async def get(self, job_id: str) -> JobState | None:
        async with self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)) as cursor:
            row = await cursor.fetchone()
        return _from_row(row) if row is not None else None

    async def recent_durations(self, persona: str, limit: int = 20) -> list[float]:
        async with self._db.execute(
            "SELECT duration_seconds FROM jobs WHERE persona=? AND status='complete' "
            "AND duration_seconds IS NOT NULL ORDER BY completed_at DESC LIMIT ?",
            (persona, limit),
        ) as cursor:
            rows = await cursor.fetchall()
        return [float(r[0]) for r in rows]


def _to_row(job: JobState) -> dict[str, Any]:
    return _to_row_partial(job.model_dump(mode="python"))


def _to_row_partial(values: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in values.items():
        if key not in JobState.model_fields:
            raise KeyError(f"unknown job field {key!r}")
        if key in _JSON_FIELDS and value is not None:
            row[key] = json.dumps(value)
        elif isinstance(value, JobStatus):
            row[key] = value.value
        else:
            row[key] = value
    return row


def _from_row(row: aiosqlite.Row) -> JobState:
    data = {key: row[key] for key in row.keys()}  # noqa: SIM118 - sqlite3.Row has no __iter__ over keys
    for key in _JSON_FIELDS:
        if data.get(key) is not None:
            data[key] = json.loads(data[key])
    return JobState.model_validate(data)
