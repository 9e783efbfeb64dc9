"""Operations on the job history: list, database statistics and per-persona usage, reset."""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from worker import events
from worker.errors import QueueUnavailableError
from worker.models import DatabaseStats, JobFinish, JobList, JobStatus, JobSummary, PersonaUsage, ResetResult, iso_utc
from worker.options import JobOptions
from worker.queue import JobQueue
from worker.retention import DAY, next_cleanup
from worker.store import JobStore

log = logging.getLogger(__name__)

MB = 1024 * 1024
LARGE_DATABASE_MB = 500.0
CLEANUP_OVERDUE_SECONDS = 3 * 3600.0
MAX_LIST_LIMIT = 100
STATUSES = tuple(s.value for s in JobStatus)


async def list_jobs(store: JobStore, *, status: str | None, persona: str | None, limit: int) -> JobList:
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {status!r}.")
    limit = max(1, min(limit, MAX_LIST_LIMIT))
    jobs, matching = await store.list_jobs(status=status, persona=persona, limit=limit)
    return JobList(
        jobs=[JobSummary.from_state(j) for j in jobs],
        total_count=await store.count(),
        filtered_count=matching,
    )


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0-100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return round(ordered[rank - 1], 2)


def persona_usage(rows: list[dict[str, Any]], now: float) -> list[PersonaUsage]:
    today = datetime.fromtimestamp(now, UTC).date()
    days = [(today - timedelta(days=n)).isoformat() for n in range(6, -1, -1)]
    by_persona: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_persona[str(row["persona"])].append(row)
    usage = []
    for persona, items in sorted(by_persona.items()):
        counts = {s.value: 0 for s in JobStatus}
        per_day = dict.fromkeys(days, 0)
        durations: list[float] = []
        tokens_in = tokens_out = 0
        for row in items:
            counts[str(row["status"])] = counts.get(str(row["status"]), 0) + 1
            day = datetime.fromtimestamp(float(row["created_at"]), UTC).date().isoformat()
            if day in per_day:
                per_day[day] += 1
            if row["status"] == JobStatus.COMPLETE.value and row["duration_seconds"] is not None:
                durations.append(float(row["duration_seconds"]))
            tokens_in += int(row["tokens_input"] or 0)
            tokens_out += int(row["tokens_output"] or 0)
        finished = counts["complete"] + counts["failed"]
        usage.append(
            PersonaUsage(
                persona=persona,
                jobs=len(items),
                complete=counts["complete"],
                failed=counts["failed"],
                cancelled=counts["cancelled"],
                active=counts["pending"] + counts["running"],
                success_rate=round(counts["complete"] / finished, 3) if finished else None,
                p50_duration_seconds=percentile(durations, 50),
                p95_duration_seconds=percentile(durations, 95),
                tokens_input=tokens_in,
                tokens_output=tokens_out,
                jobs_per_day=per_day,
            )
        )
    return usage


def recommendation(
    *, size_mb: float, oldest_days: float | None, last_cleanup: float | None, options: JobOptions, now: float
) -> str:
    keep_days = max(options.retention_days_complete, options.retention_days_failed)
    if last_cleanup is not None and now - last_cleanup > CLEANUP_OVERDUE_SECONDS:
        return (
            f"cleanup overdue: the hourly retention job last ran {round((now - last_cleanup) / 3600)} h ago; "
            "is a worker running?"
        )
    if last_cleanup is None and oldest_days is not None and oldest_days > keep_days + 1:
        return "cleanup overdue: jobs older than the retention period remain; is a worker running?"
    if size_mb > LARGE_DATABASE_MB:
        return (
            f"large database ({size_mb:.0f} MB): lower PERSONAS_RETENTION_DAYS_COMPLETE / _FAILED, "
            "or reset_persona_jobs(confirm=True)"
        )
    return "healthy"


def add_noise_stats(usage: list[PersonaUsage], counts: list[tuple[str, int]], dismissed: dict[str, int]) -> None:
    """Findings per run and dismissal rate of each persona (issue 13: which persona is noisy)."""
    runs: dict[str, list[int]] = defaultdict(list)
    for persona, count in counts:
        runs[persona].append(count)
    known = {row.persona for row in usage}
    for persona in sorted((set(runs) | set(dismissed)) - known):  # ran only inside panels
        usage.append(
            PersonaUsage(
                persona=persona,
                jobs=0,
                complete=0,
                failed=0,
                cancelled=0,
                active=0,
                success_rate=None,
                p50_duration_seconds=None,
                p95_duration_seconds=None,
                tokens_input=0,
                tokens_output=0,
                jobs_per_day={},
            )
        )
    usage.sort(key=lambda row: row.persona)
    for row in usage:
        raised = runs.get(row.persona, [])
        row.findings_per_run = round(sum(raised) / len(raised), 2) if raised else None
        row.dismissals = dismissed.get(row.persona, 0)
        row.dismissal_rate = round(min(1.0, row.dismissals / sum(raised)), 3) if sum(raised) else None


async def database_stats(
    store: JobStore, options: JobOptions, now: float | None = None, *, dismissed: dict[str, int] | None = None
) -> DatabaseStats:
    now = time.time() if now is None else now
    size_mb = round(await store.size_bytes() / MB, 3)
    oldest = await store.oldest_created_at()
    oldest_days = round((now - oldest) / DAY, 2) if oldest is not None else None
    last_raw = await store.get_meta("last_cleanup")
    last = float(last_raw) if last_raw is not None else None
    deleted_raw = await store.get_meta("last_cleanup_deleted")
    usage = persona_usage(await store.usage_rows(), now)
    add_noise_stats(usage, await store.finding_counts(), dismissed or {})
    return DatabaseStats(
        database_size_mb=size_mb,
        total_jobs=await store.count(),
        jobs_by_status=await store.status_counts(),
        oldest_job_days=oldest_days,
        next_cleanup=next_cleanup(now).isoformat(timespec="seconds"),
        last_cleanup=iso_utc(last),
        last_cleanup_deleted=int(deleted_raw) if deleted_raw is not None else None,
        retention_days={
            "complete": options.retention_days_complete,
            "failed": options.retention_days_failed,
            "cancelled": options.retention_days_failed,
        },
        cleanup_recommendation=recommendation(
            size_mb=size_mb, oldest_days=oldest_days, last_cleanup=last, options=options, now=now
        ),
        personas=usage,
    )


async def reset(store: JobStore, queue: JobQueue) -> ResetResult:
    """Delete all job history. Pending and running jobs are cancelled first (taken off the queue or
    aborted on their worker), so no worker keeps spending tokens on a job that no longer exists."""
    cancelled = 0
    for job in await store.active():
        if await store.finish(job.id, JobFinish.cancelled("Cancelled by reset_persona_jobs.")):
            cancelled += 1
            try:
                await queue.stop(job.queue_job_id or job.id)
            except QueueUnavailableError as exc:
                log.warning(
                    "reset: could not stop job %s in Redis (%s); its worker stops at its next heartbeat",
                    job.id,
                    exc,
                )
            await events.publish(queue.pool, job.id, "cancelled")
    before = await store.size_bytes()
    deleted = await store.delete_all()
    await store.vacuum()
    freed = max(0, before - (await store.size_bytes()))
    return ResetResult(
        jobs_deleted=deleted,
        jobs_cancelled=cancelled,
        space_freed_mb=round(freed / MB, 3),
        message=f"All job history deleted ({deleted} jobs"
        + (f"; {cancelled} pending or running jobs were cancelled first" if cancelled else "")
        + ").",
    )
