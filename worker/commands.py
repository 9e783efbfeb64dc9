"""``personas jobs list|show|cancel|stats``: the job tools from a shell (plain tables, or --json).

They open the job database directly. ``cancel`` also needs the Redis the workers use to stop a
running job at once: REDIS_URL, else the project's embedded Redis as its servers recorded it
(``<data dir>/redis.json``, secret included); without either the job is still marked cancelled and
its worker stops at its next lease heartbeat.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel
from redis.exceptions import RedisError

from personas.registry import PersonaRegistry
from worker.errors import JobRequestError, UnknownJobError
from worker.models import CancelResult, JobReport, JobStatus
from worker.options import JobOptions
from worker.queue import JobQueue, make_pool
from worker.redis_record import read_record
from worker.service import JobService
from worker.store import JobStore


@asynccontextmanager
async def _service(
    db_path: Path | str, redis_url: str | None, personas: PersonaRegistry, options: JobOptions
) -> AsyncIterator[JobService]:
    async with JobStore.open(db_path, webhooks=options.webhook_url is not None) as store:
        pool = make_pool(redis_url or "unix:///nonexistent/personas-no-redis.sock")
        try:
            yield JobService(
                store, JobQueue(pool, redis_url or "(none)"), personas, max_context_chars=1, options=options
            )
        finally:
            await pool.aclose()


async def find_redis(redis_url: str | None, data_dir: Path) -> str | None:
    """REDIS_URL, else the project's embedded Redis (recorded by its servers) when it answers."""
    if redis_url:
        return redis_url
    url = await asyncio.to_thread(read_record, data_dir)
    if url is None:
        return None
    pool = make_pool(url)
    try:
        await pool.ping()
        return url
    except (OSError, RedisError):
        return None
    finally:
        await pool.aclose()


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _dump(model: BaseModel, out: TextIO) -> None:
    out.write(model.model_dump_json(indent=2) + "\n")


async def jobs_command(
    action: str,
    *,
    db_path: Path | str,
    data_dir: Path,
    redis_url: str | None,
    personas: PersonaRegistry,
    options: JobOptions,
    out: TextIO,
    err: TextIO,
    job_id: str | None = None,
    status: str | None = None,
    persona: str | None = None,
    limit: int = 20,
    as_json: bool = False,
) -> int:
    if action == "cancel":
        redis_url = await find_redis(redis_url, data_dir)
    async with _service(db_path, redis_url, personas, options) as service:
        try:
            if action == "list":
                jobs = await service.list_jobs(status=status, persona=persona, limit=limit)
                if as_json:
                    _dump(jobs, out)
                    return 0
                rows = [["JOB ID", "PERSONA", "STATUS", "PRIORITY", "CREATED (UTC)", "DURATION", "TASK"]]
                rows += [
                    [
                        j.job_id,
                        j.persona,
                        j.status.value,
                        j.priority,
                        j.created_at[:19].replace("T", " "),
                        _secs(j.duration_seconds),
                        j.task[:60],
                    ]
                    for j in jobs.jobs
                ]
                _table(rows, out)
                out.write(f"\n{jobs.filtered_count} matching of {jobs.total_count} jobs\n")
                return 0
            if action == "show":
                assert job_id is not None
                report = await service.check(job_id)
                _dump(report, out) if as_json else _show(report, out)
                return 0
            if action == "cancel":
                assert job_id is not None
                result = await service.cancel(job_id)
                _dump(result, out) if as_json else _cancelled(result, redis_url, out)
                return 0 if result.cancelled else 1
            if action == "stats":
                stats = await service.stats()
                if as_json:
                    _dump(stats, out)
                    return 0
                _table(
                    [
                        ["database size", f"{stats.database_size_mb:.2f} MB"],
                        [
                            "jobs",
                            f"{stats.total_jobs} ("
                            + ", ".join(f"{k} {v}" for k, v in stats.jobs_by_status.items() if v)
                            + ")",
                        ],
                        ["oldest job", "-" if stats.oldest_job_days is None else f"{stats.oldest_job_days:.1f} days"],
                        ["last cleanup", stats.last_cleanup or "never"],
                        ["next cleanup", stats.next_cleanup],
                        ["health", stats.cleanup_recommendation],
                    ],
                    out,
                )
                if stats.personas:
                    out.write("\n")
                    rows = [
                        ["PERSONA", "JOBS", "OK", "FAILED", "SUCCESS", "P50", "P95", "TOKENS IN/OUT", "LAST 7 DAYS"]
                    ]
                    rows += [
                        [
                            u.persona,
                            str(u.jobs),
                            str(u.complete),
                            str(u.failed),
                            "-" if u.success_rate is None else f"{u.success_rate:.0%}",
                            _secs(u.p50_duration_seconds),
                            _secs(u.p95_duration_seconds),
                            f"{u.tokens_input}/{u.tokens_output}",
                            " ".join(str(n) for n in u.jobs_per_day.values()),
                        ]
                        for u in stats.personas
                    ]
                    _table(rows, out)
                return 0
        except (UnknownJobError, JobRequestError) as exc:
            err.write(f"personas jobs {action}: {exc}\n")
            return 2
    err.write(f"personas jobs: unknown action {action!r}\n")
    return 2


def _show(report: JobReport, out: TextIO) -> None:
    rows = [["job", report.job_id], ["persona", report.persona], ["status", report.status.value], ["task", report.task]]
    if report.progress is not None:
        p = report.progress
        eta = f", ETA {p.eta_seconds}s" if p.eta_seconds is not None else ""
        rows.append(["progress", f"{p.percent_complete}% {p.phase}: {p.message}{eta}"])
    for name, value in (("elapsed", report.elapsed_seconds), ("duration", report.duration_seconds)):
        if value is not None:
            rows.append([name, _secs(value)])
    if report.tokens_used is not None:
        rows.append(["tokens", f"{report.tokens_used.input} in / {report.tokens_used.output} out"])
    if report.error:
        rows.append(["error", report.error])
    _table(rows, out)
    text = report.result or report.partial_result
    if text:
        out.write(("\n" if report.result else "\npartial result:\n") + text.rstrip() + "\n")


def _cancelled(result: CancelResult, redis_url: str | None, out: TextIO) -> None:
    out.write(result.message + "\n")
    if result.cancelled and redis_url is None and result.status is JobStatus.CANCELLED:
        out.write("(no Redis found: a running worker stops at its next lease heartbeat)\n")
    if result.partial_result:
        out.write("\npartial result:\n" + result.partial_result.rstrip() + "\n")
