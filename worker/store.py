"""JobStore: job records in the system of record (SQLite on one host, or PostgreSQL for a team).

Each query is written once, for both backends (see :mod:`standards.db`). Terminal states are
immutable: every write of a job's state is guarded in SQL, and a trigger refuses a change to a
terminal job whoever issues it (see :mod:`worker.jobs_schema`). On a terminal row only bookkeeping
may still change (the lease being released, the webhook delivery status). Every write is one
conditional statement, so several workers and servers can race on the same row and exactly one
wins (the row count). One concern (the job records' SQL), a little over 400 lines.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from personas.runtime import ProgressUpdate
from standards.db import Database, Row, open_database
from worker import jobs_schema
from worker.jobs_schema import TERMINAL_SQL as _TERMINAL_SQL
from worker.jobs_schema import from_row as _from_row
from worker.jobs_schema import to_row as _to_row
from worker.jobs_schema import to_row_partial as _to_row_partial
from worker.models import TERMINAL_STATUSES, JobFinish, JobState, JobStatus

DEFAULT_ESTIMATE_SECONDS = 45.0
_QUEUED = "progress_phase='queued', progress_percent=0, progress_eta_seconds=NULL"
_TABLES = ("jobs", "conversations", "job_files", "usage_daily", "meta")


class JobStore:
    """Typed access to the job tables. Open it with :meth:`open`."""

    def __init__(self, db: Database, *, webhooks: bool = False) -> None:
        self.db = db
        self.path = db.path
        """The SQLite file; None on Postgres."""
        self.webhooks = webhooks
        """A completion webhook is configured: every terminal transition queues its delivery."""

    @classmethod
    @asynccontextmanager
    async def open(cls, target: Path | str, *, webhooks: bool = False) -> AsyncIterator[JobStore]:
        """Open a SQLite file (created if missing, refused if damaged) or a ``postgresql://`` URL,
        applying pending schema migrations."""
        async with open_database(target) as db:
            await db.migrate("jobs", jobs_schema.MIGRATIONS)
            await db.add_missing_columns("jobs", jobs_schema.column_types(db.dialect))
            yield cls(db, webhooks=webhooks)

    async def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        return await self.db.execute(sql, tuple(params))

    # ---- conversations (kept apart: they can be large, and check_persona_job never needs them) --
    # A trigger deletes a job's conversation with the job, whichever statement deletes it.

    async def save_conversation(self, job_id: str, messages: list[dict[str, Any]]) -> None:
        await self._write(
            "INSERT INTO conversations (job_id, messages) VALUES (?, ?) "
            "ON CONFLICT (job_id) DO UPDATE SET messages = excluded.messages",
            (job_id, json.dumps(messages)),
        )

    async def conversation_count(self) -> int:
        return int(await self._scalar("SELECT COUNT(*) FROM conversations"))

    async def conversation(self, job_id: str) -> list[dict[str, Any]] | None:
        rows = await self._rows("SELECT messages FROM conversations WHERE job_id=?", (job_id,))
        for row in rows:
            messages = json.loads(row["messages"])
            return messages if isinstance(messages, list) else None
        return None

    # ---- lifecycle ------------------------------------------------------------------------

    async def insert(self, job: JobState) -> bool:
        """Insert a new job; True once stored (the daily quota is counted apart: :meth:`count_accepted`)."""
        if job.queued_at is None or job.queue_job_id is None:
            job = job.model_copy(
                update={
                    "queued_at": job.queued_at or job.created_at,
                    "queue_job_id": job.queue_job_id or job.id,
                }
            )
        row = _to_row(job)
        columns = ",".join(row)
        marks = ",".join("?" for _ in row)
        return await self._write(f"INSERT INTO jobs ({columns}) VALUES ({marks})", row.values()) > 0

    # ---- usage: accepted jobs per persona and UTC day (the daily quota); reset never erases it ----

    async def count_accepted(self, persona: str, day: str, *, limit: int = 0) -> bool:
        """Count one accepted job of ``persona`` on ``day`` (UTC, ``YYYY-MM-DD``). With ``limit``,
        only while fewer than ``limit`` were counted: check and count are one statement, so
        concurrent submits cannot overshoot. False when the limit refused it."""
        sql = (
            "INSERT INTO usage_daily (persona, day, accepted) VALUES (?, ?, 1) "
            "ON CONFLICT (persona, day) DO UPDATE SET accepted = usage_daily.accepted + 1"
        )
        params: list[Any] = [persona, day]
        if limit > 0:
            sql += " WHERE usage_daily.accepted < ?"
            params.append(limit)
        return await self._write(sql, params) > 0

    async def uncount_accepted(self, persona: str, day: str) -> None:
        """Take back a count whose job was not accepted after all (its enqueue failed)."""
        await self._write(
            "UPDATE usage_daily SET accepted = accepted - 1 WHERE persona=? AND day=? AND accepted > 0", (persona, day)
        )

    async def accepted(self, persona: str, day: str) -> int:
        value = await self._scalar("SELECT accepted FROM usage_daily WHERE persona=? AND day=?", (persona, day))
        return int(value or 0)

    async def claim(self, job_id: str, *, owner: str, lease_seconds: float, queue_job_id: str) -> JobState | None:
        """Start running a job: only a pending job, or a running one whose lease lapsed (its worker
        died), can be claimed. ``None`` when the job is gone, finished, or alive on another worker."""
        now = time.time()
        claimed = await self._write(
            "UPDATE jobs SET status='running', started_at=COALESCE(started_at, ?), attempts=attempts+1, "
            "lease_owner=?, lease_expires_at=?, queue_job_id=?, "
            "progress_phase='initializing', progress_percent=0, progress_message='Starting' "
            "WHERE id=? AND (status='pending' OR (status='running' AND "
            "(lease_expires_at IS NULL OR lease_expires_at < ?)))",
            (now, owner, now + lease_seconds, queue_job_id, job_id, now),
        )
        return await self.get(job_id) if claimed else None

    async def renew_lease(self, job_id: str, *, owner: str, lease_seconds: float) -> bool:
        """Heartbeat. False when this worker no longer holds the job (cancelled, finished, re-queued)."""
        return (
            await self._write(
                "UPDATE jobs SET lease_expires_at=? WHERE id=? AND status='running' AND lease_owner=?",
                (time.time() + lease_seconds, job_id, owner),
            )
            > 0
        )

    async def release(self, job_id: str, *, owner: str) -> None:
        """The worker stopped working on the job (whatever its state): clear the lease expiry."""
        await self._write("UPDATE jobs SET lease_expires_at=NULL WHERE id=? AND lease_owner=?", (job_id, owner))

    async def requeue(self, job_id: str, *, owner: str, message: str) -> bool:
        """Give a running job back to the queue (graceful worker shutdown)."""
        return (
            await self._write(
                f"UPDATE jobs SET status='pending', lease_owner=NULL, lease_expires_at=NULL, queued_at=?, "
                f"{_QUEUED}, progress_message=? WHERE id=? AND status='running' AND lease_owner=?",
                (time.time(), message, job_id, owner),
            )
            > 0
        )

    async def update_progress(self, job_id: str, update: ProgressUpdate, *, owner: str | None = None) -> bool:
        sql = (
            "UPDATE jobs SET progress_phase=?, progress_percent=?, progress_message=?, "
            "progress_eta_seconds=?, tool_calls_made=?, tokens_input=?, tokens_output=?, "
            "partial_result=COALESCE(?, partial_result) "
            "WHERE id=? AND status='running'"
        )
        params: list[Any] = [
            update.phase,
            update.percent_complete,
            update.message,
            update.eta_seconds,
            update.tool_calls_completed,
            update.tokens_input,
            update.tokens_output,
            update.partial_result,
            job_id,
        ]
        if owner is not None:
            sql += " AND lease_owner=?"
            params.append(owner)
        return await self._write(sql, params) > 0

    async def update_panel_runs(self, job_id: str, runs: list[dict[str, Any]], *, owner: str) -> bool:
        """A panel's per-persona progress (while this worker runs the job)."""
        return (
            await self._write(
                "UPDATE jobs SET panel_runs=? WHERE id=? AND status='running' AND lease_owner=?",
                (json.dumps(runs), job_id, owner),
            )
            > 0
        )

    async def finish(self, job_id: str, update: JobFinish, *, owner: str | None = None) -> bool:
        """Move a job into a terminal state; ``False`` if it already was in one (nothing changes).

        With ``owner``, only while that worker holds the job (a worker whose job was re-queued after
        its lease lapsed cannot overwrite the new run). Queues the job's webhook when webhooks are on."""
        now = time.time()
        values: dict[str, Any] = {"completed_at": now, **update.values()}
        if update.status is JobStatus.COMPLETE:
            values.update(
                progress_phase="done",
                progress_percent=100,
                progress_message="Complete",
                progress_eta_seconds=0,
            )
        else:
            values.setdefault("progress_eta_seconds", None)
        if self.webhooks:
            values["webhook_status"] = "pending"
        row = _to_row_partial(values)
        assignments = ",".join(f"{k}=?" for k in row)
        params: list[Any] = list(row.values())
        if "duration_seconds" not in row:
            assignments += ", duration_seconds = ? - COALESCE(started_at, created_at)"
            params.append(now)
        where = f"id=? AND status NOT IN {_TERMINAL_SQL}"
        params.append(job_id)
        if owner is not None:
            where += " AND lease_owner=?"
            params.append(owner)
        return await self._write(f"UPDATE jobs SET {assignments} WHERE {where}", params) > 0

    async def claim_webhook(self, job_id: str) -> bool:
        return (
            await self._write(
                "UPDATE jobs SET webhook_status='sending' WHERE id=? AND webhook_status='pending'", (job_id,)
            )
            > 0
        )

    async def record_webhook(self, job_id: str, status: str) -> None:
        await self._write("UPDATE jobs SET webhook_status=? WHERE id=?", (status, job_id))

    async def pending_webhooks(self, limit: int = 100) -> list[str]:
        rows = await self._rows(
            "SELECT id FROM jobs WHERE webhook_status='pending' ORDER BY completed_at LIMIT ?", (limit,)
        )
        return [str(r["id"]) for r in rows]

    # ---- recovery (reaper, orphan sweep) --------------------------------------------------

    async def expired_leases(self, now: float, limit: int = 200) -> list[JobState]:
        return await self._select(
            "SELECT * FROM jobs WHERE status='running' "
            "AND (lease_expires_at IS NULL OR lease_expires_at < ?) ORDER BY created_at LIMIT ?",
            (now, limit),
        )

    async def requeue_expired(self, job_id: str, *, queue_job_id: str, now: float, message: str) -> bool:
        """Re-queue a running job whose lease lapsed; False if another reaper or worker got there first."""
        return (
            await self._write(
                f"UPDATE jobs SET status='pending', lease_owner=NULL, lease_expires_at=NULL, queue_job_id=?, "
                f"queued_at=?, {_QUEUED}, progress_message=? WHERE id=? AND status='running' "
                "AND (lease_expires_at IS NULL OR lease_expires_at < ?)",
                (queue_job_id, now, message, job_id, now),
            )
            > 0
        )

    async def fail_expired(self, job_id: str, *, now: float, error: str) -> bool:
        return (
            await self._write(
                "UPDATE jobs SET status='failed', error=?, completed_at=?, lease_expires_at=NULL, "
                "progress_eta_seconds=NULL, duration_seconds = ? - COALESCE(started_at, created_at), "
                "webhook_status=COALESCE(?, webhook_status) "
                "WHERE id=? AND status='running' AND (lease_expires_at IS NULL OR lease_expires_at < ?)",
                (error, now, now, "pending" if self.webhooks else None, job_id, now),
            )
            > 0
        )

    async def pending_queued_before(self, before: float, limit: int = 1000) -> list[JobState]:
        return await self._select(
            "SELECT * FROM jobs WHERE status='pending' AND COALESCE(queued_at, created_at) <= ? "
            "ORDER BY created_at LIMIT ?",
            (before, limit),
        )

    async def move_queue_entry(self, job_id: str, *, old: str | None, new: str, now: float) -> bool:
        """Point a pending job at a new queue entry; False if it changed meanwhile."""
        return (
            await self._write(
                "UPDATE jobs SET queue_job_id=?, queued_at=? WHERE id=? AND status='pending' "
                "AND queue_job_id IS NOT DISTINCT FROM ?",
                (new, now, job_id, old),
            )
            > 0
        )

    # ---- reads ----------------------------------------------------------------------------

    async def get(self, job_id: str) -> JobState | None:
        rows = await self._select("SELECT * FROM jobs WHERE id=?", (job_id,))
        return rows[0] if rows else None

    async def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return await self.db.fetch(sql, tuple(params))

    async def _select(self, sql: str, params: Iterable[Any] = ()) -> list[JobState]:
        return [_from_row(r) for r in await self._rows(sql, params)]

    async def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        rows = await self._rows(sql, params)
        return next(iter(rows[0].values())) if rows else None

    async def estimate_seconds(self, persona: str) -> float:
        """The one duration estimate: the median of the persona's last 20 completed runs, or
        :data:`DEFAULT_ESTIMATE_SECONDS` before it has any."""
        durations = await self.recent_durations(persona)
        return statistics.median(durations) if durations else DEFAULT_ESTIMATE_SECONDS

    async def recent_durations(self, persona: str, limit: int = 20) -> list[float]:
        rows = await self._rows(
            "SELECT duration_seconds FROM jobs WHERE persona=? AND status='complete' "
            "AND duration_seconds IS NOT NULL ORDER BY completed_at DESC LIMIT ?",
            (persona, limit),
        )
        return [float(r["duration_seconds"]) for r in rows]

    async def list_jobs(
        self, *, status: str | None = None, persona: str | None = None, limit: int = 10
    ) -> tuple[list[JobState], int]:
        """The newest ``limit`` jobs matching the filters, and how many match in all."""
        where, params = _filters(status=status, persona=persona)
        jobs = await self._select(f"SELECT * FROM jobs{where} ORDER BY created_at DESC LIMIT ?", (*params, limit))
        count = int(await self._scalar(f"SELECT COUNT(*) FROM jobs{where}", params))
        return jobs, count

    async def count(self) -> int:
        return int(await self._scalar("SELECT COUNT(*) FROM jobs"))

    async def status_counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in JobStatus}
        for row in await self._rows("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status"):
            counts[str(row["status"])] = int(row["n"])
        return counts

    async def oldest_created_at(self) -> float | None:
        value = await self._scalar("SELECT MIN(created_at) FROM jobs")
        return float(value) if value is not None else None

    async def active(self) -> list[JobState]:
        return await self._select("SELECT * FROM jobs WHERE status IN ('pending','running')")

    async def finding_counts(self, since: float = 0.0) -> list[tuple[str, int]]:
        """(persona, findings raised) per completed run created at or after ``since``; a panel counts
        once per sub-run, before merging."""
        rows = await self._rows(
            "SELECT persona, findings, panel_runs FROM jobs WHERE status='complete' AND created_at >= ?", (since,)
        )
        counts: list[tuple[str, int]] = []
        for row in rows:
            if row["panel_runs"]:
                counts += [
                    (str(r["persona"]), int(r.get("findings") or 0))
                    for r in json.loads(row["panel_runs"])
                    if r.get("status") == "complete"
                ]
            else:
                counts.append((str(row["persona"]), len(json.loads(row["findings"] or "[]"))))
        return counts

    async def usage_rows(self) -> list[dict[str, Any]]:
        """One row per job with the columns usage statistics need."""
        rows = await self._rows(
            "SELECT persona, status, created_at, duration_seconds, tokens_input, tokens_output FROM jobs"
        )
        return [dict(r) for r in rows]

    # ---- retention and reset --------------------------------------------------------------

    async def delete_finished_before(self, statuses: Iterable[JobStatus], before: float) -> int:
        chosen = [s.value for s in statuses if s in TERMINAL_STATUSES]
        if not chosen:
            return 0
        marks = ",".join("?" for _ in chosen)
        return await self._write(
            f"DELETE FROM jobs WHERE status IN ({marks}) AND COALESCE(completed_at, created_at) < ?",
            (*chosen, before),
        )

    async def delete_all(self) -> int:
        return await self._write("DELETE FROM jobs")

    async def get_meta(self, key: str) -> str | None:
        value = await self._scalar("SELECT value FROM meta WHERE key=?", (key,))
        return str(value) if value is not None else None

    async def set_meta(self, values: dict[str, str]) -> None:
        await self.db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            list(values.items()),
        )

    async def size_bytes(self) -> int:
        """The SQLite file plus its write-ahead log, or the job tables' size on Postgres."""
        return await self.db.size_bytes(_TABLES)

    async def free_bytes(self) -> int:
        return await self.db.free_bytes()

    async def vacuum(self) -> None:
        """Reclaim free space (SQLite: VACUUM and truncate the WAL; Postgres: autovacuum does it)."""
        await self.db.vacuum()


def _filters(*, status: str | None, persona: str | None) -> tuple[str, tuple[Any, ...]]:
    clauses: list[str] = []
    params: list[Any] = []
    if status is not None:
        clauses.append("status=?")
        params.append(status)
    if persona is not None:
        clauses.append("persona=?")
        params.append(persona)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)
